"""Web viewer benchmark, headless Chromium (SwiftShader WebGL) against `radlab up` on loopback: a 512×512×300 CT from
opening to the first rendered image and to full MPR, slice scroll frame times, a brush stroke to rendered, a one-slice
save round trip, and the bytes sent per volume — against the issue's goals (1 s, 3 s, 33 ms p95, 150 ms)."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.pacs import long_ct
from radlab.client import Client
from radlab.tokens import issue_token, token_key
from shared import config
from shared.stack import Stack, free_port
from tests.browser import chromium, wait_ready

REPO = Path(__file__).resolve().parents[1]
TENANT = "bench"
SLICES = 300
SCROLLS = 60
OPENINGS = 3

# One scroll step: the axial view moved one slice on, then the time until Cornerstone says it rendered it.
SCROLL_FRAMES = """async (count) => {
  const element = document.getElementById('view-axial');
  const times = [];
  for (let step = 0; step < count; step++) {
    const k = 100 + step;
    const rendered = new Promise((resolve) => element.addEventListener('CORNERSTONE_IMAGE_RENDERED', resolve, { once: true }));
    const started = performance.now();
    window.radlab.jump(k);
    await rendered;
    times.push(performance.now() - started);
  }
  return times;
}"""
# Bytes that crossed the wire for the volume's voxels (gzip-compressed), from the page's resource timings.
TRANSFERRED = """() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/data?'))
  .reduce((sum, e) => sum + e.transferSize, 0)"""


def run() -> None:
    subprocess.run([str(REPO / "scripts" / "viewer.sh")], check=True, capture_output=True, timeout=900)
    chromium_path = subprocess.run([str(REPO / "scripts" / "tools.sh"), "chromium"], check=True, capture_output=True,
                                   text=True, timeout=900).stdout.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory() as work:
        home, http = Path(work) / "home", f"127.0.0.1:{free_port()}"
        with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": "", "RADLAB_HTTP_ADDR": http}) as stack:
            token = issue_token(token_key(home, None), subject="bench", role="admin", tenant=TENANT)
            admin = Client(stack.grpc_addr, token)
            dataset = admin.create_dataset("viewer bench").dataset_id
            admin.create_class(dataset, "organ", value=1)
            admin.upload(long_ct(config.data_dir(), Path(work) / "ct", SLICES), dataset)
            [item] = admin.wait_for_items(dataset, 1, timeout_s=600)
            shape = list(item.volume_ref.geometry.shape)
            with chromium(chromium_path) as browser:
                figures = [measure(browser, f"http://{http}", token, item.item_id, 150 + 10 * n) for n in range(OPENINGS)]
    report(shape, figures)


def measure(browser, url: str, token: str, item_id: str, k: int) -> dict:
    """One opening of the item: its timings, then a brush stroke on slice k (a new slice each time) saved."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/viewer/#token={token}&item={item_id}")
    wait_ready(page, timeout_ms=300_000)
    figures = dict(page.evaluate("() => window.radlab.timings"))
    figures["bytes"] = page.evaluate("() => window.radlab.bytes")
    figures["transferred"] = page.evaluate(TRANSFERRED)
    figures["scroll"] = page.evaluate(SCROLL_FRAMES, SCROLLS)
    page.keyboard.press("b")
    page.evaluate(f"() => window.radlab.jump({k})")
    centre = page.evaluate(f"() => window.radlab.pagePoint('axial', 256, 256, {k})")
    page.mouse.move(*centre)
    page.evaluate("() => { window.__strokeStarted = performance.now(); }")
    page.mouse.down()
    page.mouse.move(centre[0] + 40, centre[1], steps=5)
    page.mouse.up()
    figures["stroke"] = page.evaluate("""() => new Promise((resolve) => requestAnimationFrame(() =>
      resolve(performance.now() - window.__strokeStarted)))""")
    page.click("#save")
    page.wait_for_function("() => /Saved 1 key slice/.test(document.querySelector('#messages').textContent)", timeout=60_000)
    figures["saveMs"] = page.evaluate("() => window.radlab.timings.saveMs")
    page.close()
    return figures


def report(shape: list[int], figures: list[dict]) -> None:
    def median(key: str) -> float:
        return statistics.median(f[key] for f in figures)

    frames = sorted(t for f in figures for t in f["scroll"])
    p95 = frames[int(0.95 * (len(frames) - 1))]
    print(f"viewer: a {shape[2]}×{shape[1]}×{shape[0]} CT through the gateway on loopback, headless Chromium (SwiftShader "
          f"WebGL, no GPU), median of {len(figures)} openings")
    rows = [
        ("first rendered image (the server's PNG)", f"{median('firstImageMs'):.0f} ms", "≤ 1000 ms", median("firstImageMs") / 1000),
        ("full MPR ready (volume in the browser)", f"{median('mprMs'):.0f} ms", "≤ 3000 ms", median("mprMs") / 3000),
        ("  of which the voxels' fetch and decode", f"{median('dataMs'):.0f} ms", "", None),
        (f"slice scroll frame p95 ({len(frames)} frames)", f"{p95:.1f} ms", "≤ 33 ms", p95 / 33),
        ("brush stroke (drag of 5 moves) to rendered", f"{median('stroke'):.0f} ms", "", None),
        ("save of a one-slice edit, round trip", f"{median('saveMs'):.0f} ms", "≤ 150 ms", median("saveMs") / 150),
        ("bytes per volume: voxels / sent (gzip)", f"{median('bytes') / 1e6:.1f} MB / {median('transferred') / 1e6:.1f} MB",
         "", None),
    ]
    width = max(len(row[0]) for row in rows)
    for name, value, goal, ratio in rows:
        against = f"  {goal} ({ratio:.2f}× the goal)" if ratio is not None else ""
        print(f"  {name:<{width}}  {value:>18}{against}")


if __name__ == "__main__":
    run()
