"""The HTTP server, started as a real uvicorn process on 127.0.0.1, and its page in a real
headless browser."""

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi", reason="the serve extra is not installed")

MAX_TEXTS, MAX_BODY = 100, 65536


@pytest.fixture(scope="module")
def server(trained):
    """``python -m textgnn serve`` on the shared trained model, in its own process; stopped
    at the end."""
    from textgnn.serving import running_server

    run, _ = trained
    with running_server(run / "model", "--max-texts", str(MAX_TEXTS), "--max-body-bytes", str(MAX_BODY),
                        "--max-wait-ms", "20") as (url, _process):
        yield url, run / "model"


TEXTS = ["The film is wonderful and the cast was charming .", "It is dull and the plot was tedious .",
         "   ", "The script is clumsy", "Brilliant ! ", "the plot is moving and it was funny ."]


def test_predict_gives_what_the_library_gives(server):
    from textgnn import load

    url, model = server
    answer = httpx.post(f"{url}/predict", json={"texts": TEXTS}, timeout=30)
    assert answer.status_code == 200, answer.text
    got = answer.json()["predictions"]
    want = load(model).predict(TEXTS)
    assert len(got) == len(want) == len(TEXTS)
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys() and g["text"] == w["text"]
        if "error" in w:  # the whitespace-only text: its own error entry, as in predict
            assert g["error"] == w["error"]
            continue
        assert g["label"] == w["label"]
        assert g["probs"] == pytest.approx(w["probs"], abs=1e-6)


def test_sixteen_concurrent_clients_all_get_answers_in_shared_model_calls(server):
    from textgnn import load

    url, model = server
    want = {t: p["label"] for t, p in zip(TEXTS, load(model).predict(TEXTS), strict=True) if "label" in p}
    before = httpx.get(f"{url}/health").json()

    def client(k: int) -> list[tuple[str, dict]]:
        answers = []
        with httpx.Client(base_url=url, timeout=60) as c:
            for i in range(50):
                text = list(want)[(k + i) % len(want)]
                r = c.post("/predict", json={"texts": [text]})
                answers.append((text, r.json() if r.status_code == 200 else {"status": r.status_code}))
        return answers

    with ThreadPoolExecutor(16) as pool:
        answers = [a for batch in pool.map(client, range(16)) for a in batch]
    assert len(answers) == 800
    errors = [a for a in answers if "predictions" not in a[1]]
    assert errors == []
    assert all(a["predictions"][0]["label"] == want[text] for text, a in answers)
    after = httpx.get(f"{url}/health").json()
    requests = after["predict_requests"] - before["predict_requests"]
    calls = after["model_calls"] - before["model_calls"]
    assert requests == 800 and calls < requests  # concurrent requests shared model calls


def test_two_worker_processes_answer_on_one_port_and_stop_together(trained):
    """``serve --workers 2``: uvicorn's worker processes, each with its own model, answer on
    one port what the library answers; stopping the server stops them all."""
    import psutil

    from textgnn import load
    from textgnn.serving import running_server

    run, _ = trained
    want = load(run / "model").predict(TEXTS)
    with running_server(run / "model", "--workers", "2") as (url, process):
        workers = psutil.Process(process.pid).children(recursive=True)
        assert len(workers) >= 2

        def client(k: int) -> tuple[list, int]:
            with httpx.Client(base_url=url, timeout=60) as c:
                answer = c.post("/predict", json={"texts": TEXTS})
                return answer.json()["predictions"], c.get("/health").json()["pid"]

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(client, range(32)))
        for predictions, _ in answers:
            assert [p.get("label") for p in predictions] == [w.get("label") for w in want]
        assert {pid for _, pid in answers} <= {w.pid for w in workers}

    def alive(w: psutil.Process) -> bool:  # an exited orphan may stay a zombie under this init
        try:
            return w.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + 20
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w.pid for w in workers if alive(w)]


BAD = [
    ("predict", b"{not json", 400, "not JSON"),
    ("predict", b'["a list"]', 422, "JSON object"),
    ("predict", b'{"text": "one"}', 422, '{"texts"'),
    ("predict", b'{"texts": "one"}', 422, '{"texts"'),
    ("predict", b'{"texts": []}', 422, "empty"),
    ("predict", b'{"texts": ["fine", 3]}', 422, "texts[1] is a int"),
    ("predict", json.dumps({"texts": ["a"] * (MAX_TEXTS + 1)}).encode(), 422, f"at most {MAX_TEXTS}"),
    ("predict", json.dumps({"texts": ["x" * (MAX_BODY + 10)]}).encode(), 413, "limit"),
    ("explain", b'{"texts": ["a"]}', 422, '{"text"'),
    ("explain", b'{"text": "   "}', 422, "whitespace"),
    ("explain", b"\xff\xfe", 400, "not JSON"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), BAD,
                         ids=[f"{p}-{s}-{m}" for p, _, s, m in BAD])
def test_bad_input_gets_its_4xx_and_the_server_stays_up(server, path, body, status, message):
    url, _ = server
    answer = httpx.post(f"{url}/{path}", content=body, headers={"content-type": "application/json"},
                        timeout=30)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    assert "Traceback" not in answer.text
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200


def test_explain_and_model_card(server):
    url, model = server
    card = httpx.get(f"{url}/model").json()
    assert card["labels"] == ["negative", "positive"] and card["encoder"] == "gcn"
    assert card["graph"] == "dependency" and card["parameters"] > 1000
    assert card["manifest_sha256"] == hashlib.sha256((model / "manifest.json").read_bytes()).hexdigest()
    result = httpx.post(f"{url}/explain", json={"text": TEXTS[0]}, timeout=30).json()
    assert result["tokens"][:2] == ["The", "film"]
    assert result["label"] in card["labels"] and set(result["probs"]) == set(card["labels"])
    assert all(0 <= w <= 1 + 1e-6 for _, _, w, _ in result["edges"]) and result["edges"]


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("TEXTGNN_REQUIRE_BROWSER"):
            raise AssertionError("chromium and chromedriver are required (TEXTGNN_REQUIRE_BROWSER)")
        pytest.skip("no chromium/chromedriver (apt install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


def test_the_page_classifies_a_typed_sentence_in_a_real_browser(server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    browser = _browser()
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 30)
        wait.until(lambda b: "parameters" in b.find_element(By.ID, "model").text)
        browser.find_element(By.ID, "text").send_keys("The film is wonderful and the cast was charming .")
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda b: b.find_element(By.ID, "label").text or b.find_element(By.ID, "error").text)
        assert browser.find_element(By.ID, "error").text == ""
        assert browser.find_element(By.ID, "label").text in ("negative", "positive")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 2
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#graph svg path"))
        # an empty text shows the server's error on the page, not a label
        browser.find_element(By.ID, "text").clear()
        browser.find_element(By.ID, "text").send_keys("   ")
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda b: b.find_element(By.ID, "error").text)
        assert "empty" in browser.find_element(By.ID, "error").text
    finally:
        browser.quit()
