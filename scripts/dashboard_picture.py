#!/usr/bin/python3
"""dashboard_picture.py PROMETHEUS_URL OUT.png [options] - draws the main
panels of the Grafana dashboard docs/grafana/lb4.json as one PNG grid.

Each panel's queries are taken from the dashboard as they are, with
Grafana's variables replaced the way Grafana replaces them ($vip and
$backend: all, `.*`; $__rate_interval: max(step + scrape interval,
4 x scrape interval)), and sent to PROMETHEUS_URL's /api/v1/query_range;
each series is labelled with the target's legendFormat. Exits 1 when a
panel's queries return no series at all.

Needs python3-matplotlib (Debian: apt-get install python3-matplotlib).
`tests/netns/prometheus_test.cpp` runs it after a real run when
LB4_DASHBOARD_PNG is set (docs/observability.md)."""
import argparse
import json
import math
import os
import re
import sys
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# The panels drawn, by title in the dashboard, in grid order.
PANELS = [
    "Forwarded packets/s per backend",
    "Forwarded bytes/s per VIP",
    "Health check duration p50 / p99",
    "Health check failures/s by reason",
    "Data-plane drops/s by reason",
    "Conntrack entries vs capacity",
]

UNITS = {"pps": "packets/s", "Bps": "bytes/s", "s": "seconds", "cps": "connections/s",
         "bytes": "bytes", "percentunit": "fraction", "short": ""}


def panels_by_title(dashboard):
    out = {}

    def walk(panels):
        for p in panels:
            out[p.get("title", "")] = p
            walk(p.get("panels", []))

    walk(dashboard.get("panels", []))
    return out


def substitute(expr, rate_interval):
    expr = re.sub(r"\$\{?__(rate_interval|interval|range)\}?", f"{rate_interval}s", expr)
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:[a-z]+)?\}|\$[A-Za-z_][A-Za-z0-9_]*", ".*", expr)


def query_range(url, expr, start, end, step):
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"query_range {expr}: {body}")
    return body["data"]["result"]


def legend(fmt, metric):
    if not fmt:
        return ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt).strip()


def draw(ax, panel, url, start, end, step, rate_interval):
    custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    stacked = custom.get("stacking", {}).get("mode") == "normal"
    series = []
    for t in panel.get("targets", []):
        for s in query_range(url, substitute(t["expr"], rate_interval), start, end, step):
            xs = [(float(v[0]) - start) for v in s["values"]]
            ys = [float(v[1]) for v in s["values"]]
            series.append((legend(t.get("legendFormat", ""), s["metric"]), xs, ys))
    if not series:
        return False
    series.sort(key=lambda s: s[0])
    if stacked:
        # Stack on the common time grid (every series has the query's steps).
        grid = sorted({x for _, xs, _ in series for x in xs})
        base = [0.0] * len(grid)
        for name, xs, ys in series:
            by_x = dict(zip(xs, ys))
            top = [b + (0.0 if math.isnan(by_x.get(x, 0.0)) else by_x.get(x, 0.0))
                   for x, b in zip(grid, base)]
            ax.fill_between(grid, base, top, alpha=0.4, step=None)
            ax.plot(grid, top, linewidth=1, label=name)
            base = top
    else:
        for name, xs, ys in series:
            ax.plot(xs, ys, linewidth=1, label=name)
    if custom.get("scaleDistribution", {}).get("type") == "log":
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_title(panel["title"], fontsize=10, loc="left")
    ax.set_ylabel(UNITS.get(unit, unit), fontsize=8)
    ax.set_xlabel("seconds into the run", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6, loc="upper left", ncol=2, framealpha=0.6)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prometheus", help="e.g. http://127.0.0.1:9090")
    ap.add_argument("out", help="the PNG to write")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--dashboard", default=os.path.join(here, "..", "docs", "grafana", "lb4.json"))
    ap.add_argument("--start", type=float, help="unix time (default: --minutes before --end)")
    ap.add_argument("--end", type=float, help="unix time (default: now)")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--step", type=float, help="seconds (default: range / 240, at least 1)")
    ap.add_argument("--scrape-interval", type=float, default=15, help="Prometheus's, in seconds")
    args = ap.parse_args()

    end = args.end or time.time()
    start = args.start or end - args.minutes * 60
    step = args.step or max(1.0, round((end - start) / 240))
    rate_interval = int(math.ceil(max(step + args.scrape_interval, 4 * args.scrape_interval)))
    with open(args.dashboard) as f:
        panels = panels_by_title(json.load(f))

    cols = 2
    rows = (len(PANELS) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.1 * rows), squeeze=False)
    empty = []
    for i, title in enumerate(PANELS):
        if title not in panels:
            sys.exit(f"dashboard_picture: no panel '{title}' in {args.dashboard}")
        if not draw(axes[i // cols][i % cols], panels[title], args.prometheus.rstrip("/"),
                    start, end, step, rate_interval):
            empty.append(title)
    for j in range(len(PANELS), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle("lb4 (docs/grafana/lb4.json)", fontsize=11, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(args.out, dpi=72)
    if empty:
        print("dashboard_picture: no series for: " + ", ".join(empty), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
