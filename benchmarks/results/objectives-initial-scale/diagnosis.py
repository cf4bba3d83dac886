import sys, json, warnings, anchormi as ami
warnings.simplefilter("ignore")
lane = int(sys.argv[1])
configs = [("anchor", {}), ("anchor", {"rule": "brier"}), ("anchor", {"rule": "pseudo_spherical", "gamma": 3}),
           ("infonce", {}), ("nce", {}), ("js", {}), ("nwj", {}), ("dv", {}), ("mine", {}), ("smile", {}),
           ("fdiv", {"generator": "kl"}), ("fdiv", {"generator": "hellinger"}), ("fdiv", {"generator": "js"})]
x, y = ami.tasks.get("gaussian", dim=5, mi=2.0).sample(5000, seed=4)
jobs = [(m, p, c) for m, p in configs for c in ("soft_bounded", "separable")]
for i, (m, p, c) in enumerate(jobs):
    if i % 2 != lane: continue
    try:
        r = ami.estimate(x, y, method=m, seed=4, critic=c, n_permutations=0, **p)
        print(json.dumps({"method": m, "params": p, "critic": c, "mi": round(r.mi, 3), "stderr": round(r.stderr, 3), "steps": r.info.get("steps_run")}), flush=True)
    except Exception as e:
        print(json.dumps({"method": m, "params": p, "critic": c, "error": str(e)[:200]}), flush=True)
