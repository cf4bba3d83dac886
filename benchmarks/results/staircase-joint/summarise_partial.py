"""Summary of a partial staircase run (the finished cells only): RMSE over the settled second half of each level, and bias by level."""
import glob, json, pandas as pd
from anchormi.bench.summary import summarize_stream
recs, steps = [], []
for f in glob.glob('reproduce_output/staircase-joint/cells/*.json'):
    r = json.load(open(f))['record']; recs.append(r)
    s = pd.read_parquet(f.replace('.json', '.steps.parquet')); s['key'] = r['key']; steps.append(s)
table = pd.DataFrame(recs); steps = pd.concat(steps)
summ = summarize_stream(steps, table, 4000, 0.5)
summ.to_csv('reproduce_output/staircase-joint/summary_partial.csv', index=False)
allrows = summ[summ.level == 'all'][['family', 'method', 'rmse', 'seconds_per_step']]
print(allrows.to_string(index=False))
for (fam, m), g in summ[summ.level != 'all'].groupby(['family', 'method']):
    print(fam, m, ' '.join(f"{b:+.2f}" for b in g.sort_values('truth').bias))
