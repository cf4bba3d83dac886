import sys, json, warnings, anchormi as ami
warnings.simplefilter("ignore")
lane = int(sys.argv[1])
configs = [("anchor", {"rule": "brier"}), ("anchor", {"rule": "spherical"}), ("anchor", {"rule": "pseudo_spherical", "gamma": 3}),
           ("nwj", {}), ("chi2", {}), ("fdiv", {"generator": "kl"}), ("fdiv", {"generator": "hellinger"}), ("fdiv", {"generator": "js"})]
x, y = ami.tasks.get("cubic", dim=5, mi=2.0).sample(5000, seed=7)
jobs = [(m, p, scale) for m, p in configs for scale in ("fixed", "e")]
if sys.argv[2:] == ["fdiv-e"]:  # a third process: the f-divergence rows at scale e (lane 0 takes all three)
    jobs = [(m, p, "e") for m, p in configs[5:]] * 2
for i, (m, p, scale) in enumerate(jobs):
    if i % 2 != lane: continue
    e = ami.MIEstimator(objective=m, seed=7, n_permutations=0, **p)
    if scale == "e":
        orig = e._resolve
        e._resolve = lambda orig=orig: {**orig(), "initial_log_scale": 1.0}
    r = e.fit(x, y).result_
    print(json.dumps({"method": m, "params": p, "initial_scale": scale, "mi": round(r.mi, 3), "stderr": round(r.stderr, 3)}), flush=True)
