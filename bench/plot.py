#!/usr/bin/python3
"""plot.py RESULTS_DIR PLOTS_DIR - PNG plots of a bench/run.sh run.

Reads xdp_cost.json, rate.json and disruption.txt from RESULTS_DIR and
writes xdp_cost.png, xdp_parts.png, rate.png and disruption.png. Needs
python3-matplotlib (Debian package)."""
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def xdp_cost(res, dst):
    path = os.path.join(res, "xdp_cost.json")
    if not os.path.exists(path):
        return
    rows = [r for r in json.load(open(path)) if "median_ns" in r]
    for name, pick in (("xdp_cost.png", lambda c: not c.startswith(("part_", "timer_"))),
                       ("xdp_parts.png", lambda c: c.startswith("part_"))):
        sel = [r for r in rows if pick(r["case"])]
        if not sel:
            continue
        labels = [r["case"] for r in sel]
        med = [r["median_ns"] for r in sel]
        lo = [r["median_ns"] - r["min_ns"] for r in sel]
        hi = [r["max_ns"] - r["median_ns"] for r in sel]
        colors = ["grey" if c.startswith("floor") else "tab:blue" for c in labels]
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(sel) + 1.2))
        ax.barh(labels, med, xerr=[lo, hi], color=colors)
        ax.invert_yaxis()
        ax.set_xlabel("ns per packet (median, min-max over rounds)"
                      if name == "xdp_cost.png" else "ns per operation over the xdp_drop floor")
        for i, v in enumerate(med):
            ax.text(v, i, f" {v:.0f}", va="center", fontsize=8)
        ax.set_title("lb4_xdp per-packet cost (BPF_PROG_TEST_RUN), floors in grey"
                     if name == "xdp_cost.png" else "price of single operations")
        fig.tight_layout()
        fig.savefig(os.path.join(dst, name), dpi=110)
        plt.close(fig)


def rate(res, dst):
    path = os.path.join(res, "rate.json")
    if not os.path.exists(path):
        return
    rows = [r for r in json.load(open(path)) if "subject" in r]
    groups = []
    for r in rows:
        g = f'{r["traffic"]}\n{r["flows"]} flows'
        if g not in groups:
            groups.append(g)
    subjects = []
    for r in rows:
        if r["subject"] not in subjects:
            subjects.append(r["subject"])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(subjects)
    for k, s in enumerate(subjects):
        xs, ys, err = [], [], [[], []]
        for r in rows:
            if r["subject"] != s:
                continue
            i = groups.index(f'{r["traffic"]}\n{r["flows"]} flows')
            xs.append(i + k * width)
            ys.append(r["pps_median"] / 1e6)
            err[0].append((r["pps_median"] - r["pps_min"]) / 1e6)
            err[1].append((r["pps_max"] - r["pps_median"]) / 1e6)
        ax.bar(xs, ys, width, yerr=err, label=s)
    ax.set_xticks([i + width * (len(subjects) - 1) / 2 for i in range(len(groups))])
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel("Mpps at the backends (median, min-max)")
    ax.set_title("forwarded packets per second through veths, one core")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(dst, "rate.png"), dpi=110)
    plt.close(fig)


def disruption(res, dst):
    path = os.path.join(res, "disruption.txt")
    if not os.path.exists(path):
        return
    data = {}
    for line in open(path):
        f = dict(re.findall(r"(\w+)=([\w.]+)", line))
        if f.get("op") != "remove":
            continue
        d = data.setdefault(int(f["ring"]), [])
        d.append((int(f["backends"]), float(f["maglev_changed"]),
                  float(f["with_conntrack_changed"]), float(f["ideal"])))
    if not data:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for ring, pts in sorted(data.items()):
        pts.sort()
        n = [p[0] for p in pts]
        ax.plot(n, [p[1] for p in pts], "o-", label=f"Maglev table alone, ring {ring}")
        if ring == min(data):
            ax.plot(n, [p[2] for p in pts], "s--", label="with conntrack in front")
            ax.plot(n, [p[3] for p in pts], "k:", label="ideal 1/N")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("backends N (one removed)")
    ax.set_ylabel("fraction of 1M flows changing backend")
    ax.legend(fontsize=8)
    ax.set_title("disruption when one of N backends is removed")
    fig.tight_layout()
    fig.savefig(os.path.join(dst, "disruption.png"), dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS_DIR PLOTS_DIR")
    res, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    xdp_cost(res, dst)
    rate(res, dst)
    disruption(res, dst)


if __name__ == "__main__":
    main()
