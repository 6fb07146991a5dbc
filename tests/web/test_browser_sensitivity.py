"""The sensitivity map on the dashboard, in Debian's chromium: a strip beside each tensor, the list
sorted and filtered by what a layer changes, "surprise me", and a background run whose progress
and strips arrive over the WebSocket. The dashboard runs in this process on the default model (no
audio: the map needs none); the map is a known one, written to the job's cache, with two tensors
left for the real worker to measure."""

from __future__ import annotations

import pytest

from performer.sensitivity.cache import MapCache
from performer.sensitivity.job import SensitivityJob
from performer.sensitivity.profile import SensitivityMap
from performer.sensitivity.run import Settings, TensorResult
from performer.sensitivity.summary import DIMENSIONS
from tests.web.test_browser import CHROMIUM, DESKTOP
from tests.web.test_serve_web import free_tcp_port

QUICK = Settings(bends=("invert@100",), seconds=0.5)
LEFT = ("encoder.pqmf.conv.weight", "encoder.inlet.weight")  # measured by the worker in the test
# tensor: the score it gets in each dimension (others score 0.02)
KNOWN = {"decoder.harmonic_head.weight": {"pitch": 0.8, "loudness": 0.6},
         "decoder.inlet.bias": {"pitch": 0.5},
         "decoder.inlet.weight": {"loudness": 0.7, "noise": 0.6},
         "decoder.band_head.weight": {"brightness": 0.5, "timbre": 0.6}}


def measures(scores: dict[str, float]) -> dict:
    """One bend's measures that give these scores (v = ref * s / (1 - s))."""
    out = {}
    for dim, (measure, ref, _) in DIMENSIONS.items():
        s = scores.get(dim, 0.02)
        out[measure] = ref * s / (1 - s)
    return out


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium: apt install chromium (./setup.sh does)")
    from performer.model import load_model
    from performer.rig import Rig
    from performer.web.context import WebContext
    from performer.web.server import WebServer

    rig = Rig(load_model(None))
    cache = MapCache(tmp_path_factory.mktemp("sensitivity"))
    job = SensitivityJob(rig.model, rig.tensors, QUICK, cache, only=list(LEFT))
    known = SensitivityMap(job.info, QUICK, order=list(job.order))
    for t in rig.tensors:
        if t.name not in LEFT:
            known.tensors[t.name] = TensorResult(t.index, t.name, {"invert@100": measures(KNOWN.get(t.name, {}))})
    cache.save(known)
    port = free_tcp_port()
    web = WebServer(WebContext(rig, sensitivity=job), port=port).start()
    yield f"http://127.0.0.1:{port}", rig, job
    web.stop()
    job.stop()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def visible_rows(page) -> list[int]:
    return page.eval_on_selector_all(
        "#layer-list li.tensor:not([data-index=latent])",
        "rs => rs.filter(r => r.offsetParent !== null).map(r => Number(r.dataset.index))")


def test_strips_sorting_filtering_surprise_and_a_background_run(browser, dashboard):
    base, rig, job = dashboard
    by_name = {t.name: t.index for t in rig.tensors}
    page = browser.new_page(viewport=DESKTOP)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(base)
        page.wait_for_selector("body[data-ready=true][data-ws=open]", timeout=15000)
        model_order = visible_rows(page)  # in groups: the filter banks (encoder's and decoder's) first
        # a strip beside every tensor: bars where measured, a dash where not, the summary as its name
        assert page.eval_on_selector_all(".sens:not(.unmeasured)", "s => s.length") == len(rig.tensors) - 2
        assert page.eval_on_selector_all(".sens.unmeasured", "s => s.length") == 2
        head = by_name["decoder.harmonic_head.weight"]
        label = page.get_attribute(f'li[data-index="{head}"] .sens', "aria-label")
        assert label.startswith("pitch and loudness (pitch 0.80, loudness 0.60,"), label
        assert page.eval_on_selector_all(f'li[data-index="{head}"] .sens i', "bs => bs.length") == 6
        assert page.inner_text("#sens-status") == f"{len(rig.tensors) - 2} of {len(rig.tensors)} layers measured"

        # sorted by pitch: one flat list, strongest first; then only the layers that change pitch
        page.select_option("#sens-order", "pitch")
        order = visible_rows(page)
        assert order[:2] == [head, by_name["decoder.inlet.bias"]] and len(order) == len(rig.tensors)
        page.check("#sens-strong")
        assert sorted(visible_rows(page)) == sorted([head, by_name["decoder.inlet.bias"], rig.get("select/tensor")])
        page.select_option("#sens-order", "loudness")
        assert visible_rows(page)[:2] == [by_name["decoder.inlet.weight"], head]

        # surprise me: a layer strong in loudness, chosen (and its editor open), said in the message
        page.click("#sens-surprise")
        chosen = int(page.get_attribute("#layer-list li.chosen", "data-index"))
        assert chosen in (by_name["decoder.inlet.weight"], head)
        assert "loudness" in page.inner_text("#message")

        # back to model order: the groups again, every tensor in its place
        page.uncheck("#sens-strong")
        page.select_option("#sens-order", "")
        groups = page.eval_on_selector_all("#layer-list .group", "gs => gs.map(g => g.dataset.group)")
        assert groups == ["pqmf", "encoder", "latent", "decoder"]
        assert visible_rows(page) == model_order

        # the two left are measured in the background: progress, then their strips
        page.click("#sens-go")
        page.wait_for_function("document.body.dataset.sensitivity === 'done'", timeout=120000)
        assert page.eval_on_selector_all(".sens.unmeasured", "s => s.length") == 0
        assert page.inner_text("#sens-status") == f"{len(rig.tensors)} layers measured"
        assert page.is_hidden("#sens-go")
        pqmf = page.get_attribute('li[data-index="0"] .sens', "aria-label")
        assert pqmf and pqmf != "not measured"
        assert not errors, errors
    finally:
        page.close()
