# Trim a results.json for history's testdata: keep every field history reads
# (SLOs, processes, churn summary, availability, validity, verdict, target,
# phases, the apiserver-metrics summary), drop time series and long lists.
import json, sys
src, dst = sys.argv[1], sys.argv[2]
r = json.load(open(src))
obs = r.get('observers', {})
keep = {}
if 'apiserver-metrics' in obs:
    a = dict(obs['apiserver-metrics']); a.pop('series', None); a['keys'] = []
    keep['apiserver-metrics'] = a
r['observers'] = keep
if r.get('churn'):
    for k in list(r['churn'].keys()):
        if isinstance(r['churn'][k], (list, dict)) and len(json.dumps(r['churn'][k])) > 1000:
            r['churn'].pop(k)
r['profile'] = {k: r['profile'][k] for k in ('apiVersion', 'kind', 'name', 'description') if k in r['profile']}
r.pop('setup', None)
json.dump(r, open(dst, 'w'), separators=(',', ':'))
