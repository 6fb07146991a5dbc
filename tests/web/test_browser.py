"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a live
`performer serve` on the JACK dummy server, with a MIDI controller in another process and OSC from
this one: the page shows the model and the engine, bends reach the heat map, changes made
elsewhere move the controls, scenes, MIDI learn, reconnects, the blend source field, the model
picker (a hot swap, and the page rebuilt for the new model); PERFORMER_SCREENSHOTS=1 refreshes
docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import tone
from tests.control.test_midi_jack import JACK_BACKEND, PeerProcess
from tests.control.test_serve_control import OscPeer, free_udp_port
from tests.live.test_live_jack import REPO, ServeProcess
from tests.web.test_serve_web import free_tcp_port

pytestmark = [pytest.mark.fixtures, pytest.mark.jack]

CHROMIUM = Path("/usr/bin/chromium")
# The committed pictures are refreshed on request only: a test run leaves the tree as it was.
SCREENSHOTS = (REPO / "docs" / "screenshots" if os.environ.get("PERFORMER_SCREENSHOTS")
               else Path(tempfile.gettempdir()) / "performer-screenshots")
TOKEN = "browser-test-token-0123456789"
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}  # a 10.9" tablet, portrait


@dataclass
class Live:
    serve: ServeProcess
    base: str
    pad: PeerProcess
    osc: OscPeer

    @property
    def url(self) -> str:
        return f"{self.base}/?token={TOKEN}"

    def set(self, address: str, value) -> dict:
        response = httpx.post(f"{self.base}/api/set", json={"address": address, "value": value},
                              headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str):
        response = httpx.get(f"{self.base}{path}", params={"token": TOKEN})
        assert response.status_code == 200, response.text
        return response.json()

    def chain(self, name: str) -> list[dict]:
        return self.get("/api/state")["tensors"].get(name, [])

    def wait(self, predicate, timeout: float = 5.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.serve.text[-3000:]}")


@pytest.fixture(scope="module")
def live(jack_server, small_model_path, tmp_path_factory):
    """One server for the module: JACK audio, JACK MIDI (a controller `webpad` plugged), OSC, the
    dashboard with a token, and a practice file as the input so the meters and spectra move.
    model/load plays the embedded models, `small` (the export playing, linked) and `broken` (no model)."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("web")
    models = folder / "models"
    models.mkdir()
    (models / "small.ts").symlink_to(small_model_path)
    (models / "broken.ts").write_bytes(b"not a TorchScript archive")
    practice = folder / "practice.wav"
    signal = tone(4.0, rate=44100, freq=330.0)[0] + 0.2 * tone(4.0, rate=44100, freq=990.0)[0]
    sf.write(practice, np.clip(signal, -1, 1), 44100)
    port, osc_port = free_tcp_port(), free_udp_port()
    env = dict(jack_server.env(), MIDO_BACKEND=JACK_BACKEND)
    with PeerProcess() as pad:
        pad("plug webpad")
        serve = ServeProcess(small_model_path, env, "--web-port", str(port), "--web-token", TOKEN,
                             "--osc-port", str(osc_port), "--midi-in", "webpad", "--input-file", str(practice),
                             "--models", str(models))
        osc = OscPeer(osc_port)
        try:
            assert serve.wait_for("running; Ctrl-C stops", 60), serve.text
            assert f"web: http://127.0.0.1:{port}/?token={TOKEN}" in serve.text, serve.text
            yield Live(serve, f"http://127.0.0.1:{port}", pad, osc)
        finally:
            serve.process.terminate()
            serve.process.wait(timeout=30)
            osc.sock.close()
    assert serve.process.returncode == 0, serve.text


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium: apt install chromium (./setup.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def open_page(browser, live: Live, viewport=DESKTOP, url: str | None = None, ready: bool = True):
    page = browser.new_page(viewport=viewport)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url or live.url)
    if ready:
        page.wait_for_selector("body[data-ready=true][data-ws=open]", timeout=10000)
    return page


@pytest.fixture
def page(browser, live):
    """A fresh page on a clean rig (no bends, full wet, A), closed after the test; no script errors."""
    live.set("bends/reset", 1)
    for address, value in (("mix", 1.0), ("bypass", 0), ("select/tensor", 0)):
        live.set(address, value)
    page = open_page(browser, live)
    yield page
    errors = page.errors
    page.close()
    assert not errors, errors


def decoder_tensor(live: Live) -> dict:
    """The first transposed convolution of the decoder (an upsampling layer; any decoder tensor else)."""
    tensors = live.get("/api/tensors")
    decoder = [t for t in tensors if t["group"] == "decoder"]
    return next((t for t in decoder if t["kind"] == "conv_transpose"), decoder[0])


def heat(page) -> dict:
    return page.eval_on_selector("#heatmap", "f => ({...f.dataset})")


def choose(page, index: int) -> None:
    page.click(f'#layer-list .pick[data-index="{index}"]')
    page.wait_for_function(f"document.getElementById('heatmap').dataset.index === '{index}'", timeout=5000)


# -------------------------------------------------------------------------------------------------

def test_page_shows_the_model_in_order_and_the_live_engine(page, live):
    tensors = live.get("/api/tensors")
    groups = page.eval_on_selector_all("#layer-list .group", "gs => gs.map(g => g.dataset.group)")
    assert groups == ["pqmf", "encoder", "latent", "decoder"]
    rows = page.eval_on_selector_all("#layer-list li.tensor:not([data-index=latent])",
                                     "rs => rs.map(r => [Number(r.dataset.index), r.innerText])")
    assert sorted(i for i, _ in rows) == list(range(len(tensors)))
    for t in tensors[:4] + tensors[-2:]:
        text = dict(rows)[t["index"]]
        assert t["kind"] in text and "×".join(map(str, t["shape"])) in text, (t, text)
    # only the chosen tensor unfolds, with its plain-words line
    assert page.eval_on_selector_all("#editor", "e => e.length") == 1
    chosen = page.get_attribute("#layer-list li.chosen", "data-index")
    assert page.inner_text("#layer-list li.chosen #editor .about") == tensors[int(chosen)]["about"]

    # the status bar follows the engine (status about 4 times a second over the WebSocket)
    updates = int(page.get_attribute("#statusbar", "data-updates"))
    blocks = int(page.get_attribute("#statusbar", "data-blocks"))
    page.wait_for_function(f"Number(document.getElementById('statusbar').dataset.updates) >= {updates + 3}"
                           f" && Number(document.getElementById('statusbar').dataset.blocks) > {blocks}", timeout=5000)
    assert page.inner_text("#st-state").lower() == "running"
    assert float(page.inner_text("#st-rtf")) > 0 and page.inner_text("#st-latency").endswith("ms")
    assert "v2_small_c8" in page.inner_text("#model-name")
    # sound: spectra scroll, meters show the practice file coming in
    page.wait_for_function("Number(document.getElementById('spec-in').dataset.columns) > 10 &&"
                           "Number(document.getElementById('spec-out').dataset.columns) > 10", timeout=10000)
    page.wait_for_function("[...document.querySelectorAll('[data-side=input] .meter')]"
                           ".some(m => Number(m.getAttribute('aria-valuenow')) > -40)", timeout=5000)

    # every control has a name a screen reader can say
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, input, select, [role=tab]')]
        .filter(e => e.offsetParent !== null)
        .filter(e => !(e.getAttribute('aria-label') || (e.labels && e.labels.length) || e.textContent.trim()
                       || e.title || e.placeholder))
        .map(e => e.outerHTML.slice(0, 120))""")
    assert unnamed == []


def test_without_its_token_the_page_says_how_to_get_in(browser, live):
    page = open_page(browser, live, url=f"{live.base}/", ready=False)
    try:
        page.wait_for_function("document.getElementById('message').textContent.includes('token')", timeout=5000)
    finally:
        page.close()


def test_bending_a_tensor_redraws_its_heat_map(page, live):
    target = decoder_tensor(live)
    name, index = target["name"], target["index"]
    choose(page, index)
    editor = f'#layer-list li[data-index="{index}"] #editor'
    assert page.get_attribute(f'#layer-list .pick[data-index="{index}"]', "aria-expanded") == "true"
    before = heat(page)
    assert float(before["changed"]) == 0
    pixels = page.evaluate("document.getElementById('heat-after').toDataURL()")

    page.select_option(f'{editor} select[data-address="{name}/0/transform"]', "invert")
    page.wait_for_function(f"document.getElementById('heatmap').dataset.signature !== '{before['signature']}'",
                           timeout=5000)
    after = heat(page)
    assert float(after["changed"]) > 0.99 and int(after["version"]) > int(before["version"])
    assert page.evaluate("document.getElementById('heat-after').toDataURL()") != pixels
    assert live.chain(name)[0]["transform"] == "invert"
    assert "bent" in page.get_attribute(f'#layer-list li[data-index="{index}"]', "class")
    assert page.is_visible(f'{editor} input[data-address="{name}/0/amount"]')

    # keyboard: Home takes amount to 0; 25 quick presses of → (1% each) end at 0.25 on the server
    amount = page.locator(f'{editor} input[data-address="{name}/0/amount"]')
    amount.focus()
    page.keyboard.press("Home")
    live.wait(lambda: live.chain(name)[0]["amount"] == 0.0, what="amount 0")
    for _ in range(25):
        page.keyboard.press("ArrowRight")
    live.wait(lambda: abs(live.chain(name)[0]["amount"] - 0.25) < 1e-6, what="amount 0.25 (the last value wins)")
    assert page.input_value(f'{editor} input[data-address="{name}/0/amount"]') == "0.25"

    # a mouse drag: sets go out at about 30 Hz, not one per input event, and the last one is where it stopped
    sets = []
    page.on("request", lambda r: sets.append(r.post_data_json) if "/api/set" in r.url else None)
    box = amount.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 4, y)
    page.mouse.down()
    started = time.monotonic()
    page.mouse.move(box["x"] + 0.7 * box["width"], y, steps=80)
    page.mouse.up()
    elapsed = time.monotonic() - started
    final = float(amount.input_value())
    assert final > 0.5
    live.wait(lambda: live.chain(name)[0]["amount"] == final, what=f"amount {final} after the drag")
    page.wait_for_timeout(100)  # request events reach Python inside Playwright calls
    sent = [r["value"] for r in sets if r["address"] == f"{name}/0/amount"]
    assert 2 <= len(sent) <= 2 + elapsed * 30 * 1.3, (len(sent), elapsed)
    assert sent[-1] == final

    # a transform with parameters shows them as sliders over their ranges
    page.select_option(f'{editor} select[data-address="{name}/0/transform"]', "scale")
    factor = page.locator(f'{editor} input[data-address="{name}/0/factor"]')
    factor.wait_for(timeout=5000)
    assert (factor.get_attribute("min"), factor.get_attribute("max"), factor.input_value()) == ("-10", "10", "2")
    factor.focus()
    page.keyboard.press("End")
    live.wait(lambda: live.chain(name)[0]["params"].get("scale", {}).get("factor") == 10.0, what="factor 10")

    page.click(f'{editor} button[data-address="{name}/reset"]')
    page.wait_for_function(f"document.getElementById('heatmap').dataset.signature === '{before['signature']}'",
                           timeout=5000)
    assert live.chain(name) == []
    assert "bent" not in page.get_attribute(f'#layer-list li[data-index="{index}"]', "class")


def test_changes_from_elsewhere_move_the_controls(page, live):
    target = decoder_tensor(live)
    name, index = target["name"], target["index"]
    choose(page, index)
    live.osc.send("/performer/mix", 0.25)  # a live coder
    page.wait_for_function("document.querySelector('#globals [data-address=mix]').value === '0.25'", timeout=5000)
    assert re.search(r"mix = 0\.25 · osc", page.inner_text("#last-change"))

    live.osc.send(f"/performer/{name}/0/transform", "noise")
    select = f'#editor select[data-address="{name}/0/transform"]'
    page.wait_for_function(f"document.querySelector('{select}').value === 'noise'", timeout=5000)
    live.osc.send(f"/performer/{name}/0/sigma", 3.5)
    page.wait_for_function(f"document.querySelector('#editor [data-address=\"{name}/0/sigma\"]').value === '3.5'",
                           timeout=5000)

    page.keyboard.press("b")  # A/B: the dry input
    live.wait(lambda: live.get("/api/state")["globals"]["bypass"] == 1.0, what="bypass on")
    assert page.get_attribute("#ab", "aria-pressed") == "true"
    live.osc.send("/performer/bypass", 0)
    page.wait_for_function("document.getElementById('ab').getAttribute('aria-pressed') === 'false'", timeout=5000)

    live.set("select/tensor", 3)  # the controller's bank moved: the page follows
    page.wait_for_function("document.getElementById('heatmap').dataset.index === '3'", timeout=5000)
    assert page.get_attribute("#layer-list li.chosen", "data-index") == "3"


def test_scenes_save_recall_morph_undo_and_panic(page, live):
    target = decoder_tensor(live)
    name, index = target["name"], target["index"]
    choose(page, index)
    select = f'#editor select[data-address="{name}/0/transform"]'
    page.select_option(select, "invert")
    live.wait(lambda: live.chain(name), what="the bend")
    page.fill("#scene-name", "verse")
    page.press("#scene-name", "Enter")
    page.wait_for_selector('#scene-list li[data-scene="verse"]', timeout=5000)

    page.select_option(select, "noise")
    live.wait(lambda: live.chain(name)[0]["transform"] == "noise", what="noise")
    page.fill("#scene-name", "chorus")
    page.click("#scene-save button")
    page.wait_for_selector('#scene-list li[data-scene="chorus"]', timeout=5000)
    page.select_option(select, "ablate")
    live.wait(lambda: live.chain(name)[0]["transform"] == "ablate", what="ablate")

    page.click('#scene-list li[data-scene="verse"] .recall')  # the controls follow the recalled state
    page.wait_for_function(f"document.querySelector('{select}').value === 'invert'", timeout=5000)
    # the scene list is redrawn by its own push, which may land after the controls' state push
    page.wait_for_selector('#scene-list li[data-scene="verse"][aria-current="true"]', timeout=5000)

    page.click("#undo")
    page.wait_for_function(f"document.querySelector('{select}').value === 'ablate'", timeout=5000)
    page.click("#redo")
    page.wait_for_function(f"document.querySelector('{select}').value === 'invert'", timeout=5000)

    # morph: A verse, B chorus; the fader to B switches the transform (categorical, past the middle)
    page.click('#scene-list li[data-scene="verse"] button[aria-label="morph from verse (A)"]')
    page.click('#scene-list li[data-scene="chorus"] button[aria-label="morph to chorus (B)"]')
    page.wait_for_function("document.getElementById('scene-b').value === 'chorus'", timeout=5000)
    page.focus('#morph-slot input[data-address="scene/morph"]')
    page.keyboard.press("End")
    page.wait_for_function(f"document.querySelector('{select}').value === 'noise'", timeout=5000)
    assert live.chain(name)[0]["transform"] == "noise"

    page.click("#panic")
    live.wait(lambda: live.chain(name) == [], what="panic")
    page.wait_for_function(f"document.querySelector('{select}').value === 'none'", timeout=5000)
    assert "bent" not in page.get_attribute(f'#layer-list li[data-index="{index}"]', "class")


def test_learn_binds_a_real_midi_control(page, live):
    page.click("#tab-mappings")
    page.focus("#globals input[data-address=mix]")  # touch a control: the learn field takes its address
    assert page.input_value("#learn-address") == "mix"
    page.click("#learn-go")
    page.wait_for_selector("#learn-state[data-kind=waiting]", timeout=5000)
    live.pad(f"send 3 100 {50 * 128 + 20}")  # CC 50 moving: 20, 21, 22 on channel 1, from the controller
    page.wait_for_selector("#learn-state[data-kind=done]", timeout=5000)
    assert "CC 50" in page.inner_text("#learn-state") and "mix" in page.inner_text("#learn-state")
    row = page.locator("#mappings tr", has_text="CC 50").filter(has_text="mix")
    row.wait_for(timeout=5000)

    live.pad(f"send 1 100 {50 * 128 + 127}")  # soft takeover: the knob picks mix up at 1.0
    live.pad(f"send 1 100 {50 * 128 + 64}")
    page.wait_for_function(
        f"Math.abs(document.querySelector('#globals [data-address=mix]').value - {64 / 127}) < 0.002", timeout=5000)
    assert row.locator(".value").inner_text() == "0.504"
    assert re.search(r"mix = 0\.50\d* · midi", page.inner_text("#last-change"))
    page.wait_for_function("Number(document.getElementById('statusbar').dataset.midiMessages) >= 5", timeout=5000)


def test_the_page_reconnects_with_backoff_and_catches_up(browser, live):
    live.set("mix", 1.0)
    attempts: list[float] = []
    sockets = []
    allow = {"connect": True}

    def route(ws):
        attempts.append(time.monotonic())
        if not allow["connect"]:
            ws.close()
            return
        ws.connect_to_server()
        sockets.append(ws)

    page = browser.new_page(viewport=DESKTOP)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.route_web_socket(re.compile(r".*/api/ws.*"), route)
        page.goto(live.url)
        page.wait_for_selector("body[data-ready=true][data-ws=open]", timeout=10000)
        allow["connect"] = False
        sockets[0].close()  # the connection drops (a server restart, a Wi-Fi hiccup)
        page.wait_for_selector("body[data-ws=closed]", timeout=5000)
        assert "reconnecting" in page.inner_text("#conn")
        live.set("mix", 0.4)  # missed while away
        deadline = time.monotonic() + 8
        while len(attempts) < 4 and time.monotonic() < deadline:
            page.wait_for_timeout(50)  # Playwright calls the route handler only inside its own calls
        assert len(attempts) >= 4, attempts
        allow["connect"] = True
        page.wait_for_selector("body[data-ws=open]", timeout=10000)
        page.wait_for_function("document.querySelector('#globals [data-address=mix]').value === '0.4'", timeout=5000)
        gaps = np.diff(attempts[1:])
        assert all(later > 1.5 * earlier for earlier, later in zip(gaps, gaps[1:])), gaps
    finally:
        page.close()
    assert not errors, errors


def test_screenshots_desktop_and_tablet(browser, live):
    """docs/screenshots/: the dashboard at 1280x800 with a bend on, and at tablet width (no sideways scroll)."""
    live.set("bends/reset", 1)
    live.set("mix", 1.0)
    target = decoder_tensor(live)
    name = target["name"]
    for address, value in (("transform", "noise"), ("percent", 0.35), ("sigma", 2.0), ("mode", "channels")):
        live.set(f"{name}/0/{address}", value)
    live.set("latent/2/offset", 1.5)
    live.set("select/tensor", target["index"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for viewport, file in ((DESKTOP, "dashboard.png"), (TABLET, "dashboard-tablet.png")):
        page = open_page(browser, live, viewport=viewport)
        try:
            page.wait_for_function(f"document.getElementById('heatmap').dataset.index === '{target['index']}'"
                                   " && Number(document.getElementById('heatmap').dataset.changed) > 0", timeout=5000)
            page.wait_for_function("Number(document.getElementById('spec-out').dataset.columns) > 60", timeout=8000)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{file}: {overflow} px of sideways scroll"
            page.screenshot(path=str(SCREENSHOTS / file))
            assert not page.errors, page.errors
        finally:
            page.close()
    live.set("bends/reset", 1)


def test_the_blend_source_is_a_path_field_not_a_slider(page, live):
    target = decoder_tensor(live)
    name, index = target["name"], target["index"]
    choose(page, index)
    page.select_option(f'#editor select[data-address="{name}/0/transform"]', "blend")
    field = f'#editor [data-address="{name}/0/source"]'
    page.wait_for_selector(field, timeout=5000)
    assert page.eval_on_selector(field, "f => [f.tagName, f.type, f.getAttribute('list')]") == \
        ["INPUT", "text", "model-files"]
    # the model files the server offers are its suggestions
    offered = page.eval_on_selector_all("#model-files option", "os => os.map(o => o.value)")
    small = live.get("/api/models")["paths"]["small"]
    assert small in offered
    page.fill(field, small)
    page.press(field, "Enter")
    live.wait(lambda: live.chain(name)[0]["params"].get("blend", {}).get("source") == small, what="the source path")
    # a file that is not there: said, and the field shows what the server keeps
    page.fill(field, "/no/such/model.ts")
    page.press(field, "Enter")
    page.wait_for_function("document.getElementById('message').textContent.includes('no such file')", timeout=5000)
    page.wait_for_function(f"document.querySelector('{field}').value === {small!r}", timeout=5000)
    assert live.chain(name)[0]["params"]["blend"]["source"] == small


def tensor_rows(page) -> list[str]:
    """The layer list's tensors, by full name (the first line of each row's title)."""
    return page.eval_on_selector_all("#layer-list li.tensor:not([data-index=latent]) .pick",
                                     "ps => ps.map(p => p.title.split('\\n')[0])")


def test_the_model_picker_swaps_and_the_page_follows_the_new_model(page, live):
    small_tensors = [t["name"] for t in live.get("/api/tensors")]
    page.wait_for_selector("#model-box[data-swap=true]", timeout=5000)
    options = page.eval_on_selector_all("#model-pick option", "os => os.map(o => o.value)")
    assert options == ["default", "live", "broken", "small"] and page.input_value("#model-pick") == "small"
    assert sorted(tensor_rows(page)) == sorted(small_tensors)
    page.evaluate("""() => {  // every state the picker goes through
        window.modelStates = [];
        new MutationObserver(() => modelStates.push(document.getElementById('model-box').dataset.state))
            .observe(document.getElementById('model-box'), {attributes: true, attributeFilter: ['data-state']});
    }""")
    try:
        # a name the server does not know (a file removed since the list was read): the API's answer, clearly
        page.evaluate("document.getElementById('model-pick').append(new Option('gone', 'gone'))")
        page.select_option("#model-pick", "gone")
        page.wait_for_selector("#model-box[data-state=error]", timeout=5000)
        assert "no model named 'gone'" in page.inner_text("#model-state")
        assert page.input_value("#model-pick") == "small"
        # a file that is no model: loading…, then its failure; the model playing goes on
        page.select_option("#model-pick", "broken")
        page.wait_for_function("document.getElementById('model-box').dataset.state === 'error' &&"
                               " document.getElementById('model-state').textContent.includes('broken')", timeout=15000)
        assert "loading" in page.evaluate("modelStates")
        assert "model broken not loaded" in page.inner_text("#model-state")
        assert page.input_value("#model-pick") == "small" and sorted(tensor_rows(page)) == sorted(small_tensors)

        page.fill("#model-crossfade", "30")
        page.press("#model-crossfade", "Enter")
        live.wait(lambda: live.get("/api/models")["crossfade_ms"] == 30.0, what="crossfade 30 ms")

        page.evaluate("window.modelStates = []")
        page.select_option("#model-pick", "default")  # a hot swap while the audio plays
        page.wait_for_selector('body[data-model="default.ts"]', timeout=30000)
        page.wait_for_selector("#model-box[data-state=done]", timeout=5000)
        states = page.evaluate("modelStates")
        assert states[0] == "loading" and states[-1] == "done", states
        default_tensors = [t["name"] for t in live.get("/api/tensors")]
        assert default_tensors != small_tensors
        assert sorted(tensor_rows(page)) == sorted(default_tensors)  # the layer list is the new model's
        # the swap's timings, once its crossfade ended
        page.wait_for_function("document.getElementById('model-state').textContent.startsWith('default playing: "
                               "swapped in')", timeout=5000)
        assert "default.ts" in page.inner_text("#model-name")
        # the chosen tensor's editor and heat map are the new model's
        chosen = int(page.get_attribute("#layer-list li.chosen", "data-index"))
        page.wait_for_function(f"document.getElementById('heatmap').dataset.index === '{chosen}'", timeout=5000)
        assert page.inner_text("#inspector-name") == default_tensors[chosen]
        # a bend on the new model from the page reaches it
        target = decoder_tensor(live)
        choose(page, target["index"])
        page.select_option(f'#editor select[data-address="{target["name"]}/0/transform"]', "invert")
        live.wait(lambda: live.chain(target["name"]), what="a bend on the new model")

        live.set("model/load", "small")  # from elsewhere (a program change): the page follows too
        page.wait_for_selector('body[data-model="v2_small_c8.ts"]', timeout=30000)
        assert sorted(tensor_rows(page)) == sorted(small_tensors)
        assert page.input_value("#model-pick") == "small"
    finally:
        if live.get("/api/models")["playing"] != "small":
            live.set("model/load", "small")
            live.wait(lambda: live.get("/api/models")["playing"] == "small", timeout=30, what="small again")
        live.set("model/crossfade", 50)
