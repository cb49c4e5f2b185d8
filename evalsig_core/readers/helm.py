"""HELM run directories: `per_instance_stats.json` (+ `scenario_state.json` for cluster keys).

`per_instance_stats.json` is a list of `{instance_id, train_trial_index, stats: [{name: {name,
split[, sub_split][, perturbation]}, count, sum, ...}]}`. The score of an instance is the chosen
stat's `sum / count` (`--metric exact_match`); the split is chosen with `--filter` when the file
has several. `train_trial_index` (an integer from 0) becomes the epoch (from 1). Perturbed
instances are not the original items and are skipped (their number is recorded in the run's
config). With `--cluster KEY` the label is `instance.extra_data[KEY]` in
`scenario_state.json`, matched by instance id. `run_spec.json` (optional) gives the model, the
task and the adapter fingerprint; one that exists but cannot be read or parsed is recorded
in `RunMeta.unread_metadata` (the doctor's W220). `stats.json` holds aggregates only: reading it
is an error pointing here.

A HELM run archive (`<run>.helm.tar`, `_helmtar`: how a flow stores a run directory as one
object) is read through the same code: `_RunFiles` hands over the same files from a
directory or from the archive's members (errors then name `run.helm.tar(member)`), and the
run's SHA-256 is the archive's, the store's version key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..numtext import shown_value
from ..run import EvalRun
from ._columns import Columns, build_run
from ._dupkeys import Spec, refuse_duplicates
from ._helmtar import PER_INSTANCE, RUN_FILES, member_src, read_archive, sniff_archive
from ._io import E_AGGREGATE, E_FIELD, E_METRIC, ReadOptions, is_file, sha256_hex
from ._json import metadata_doc, parse_json, read_json_doc, read_metadata_json, unread_entry
from ._text import check_text

__all__ = ["PER_INSTANCE", "RUN_FILES", "other_error", "read_helm", "sniff_other",
           "sniff_per_instance"]
_STATE, _SPEC = "scenario_state.json", "run_spec.json"


# What `read_helm` reads of an instance of per_instance_stats.json (`_dupkeys.Spec`).
_INSTANCE_SPEC: Spec = {
    "instance_id": None, "train_trial_index": None, "perturbation": None,
    "stats": {"name": {"name": None, "split": None, "sub_split": None, "perturbation": None},
              "count": None, "sum": None}}


def sniff_per_instance(doc: Any) -> bool:
    return (isinstance(doc, list) and bool(doc) and isinstance(doc[0], dict)
            and "instance_id" in doc[0] and "stats" in doc[0])


def sniff_other(doc: Any) -> bool:
    """HELM files without per-instance scores: stats.json, scenario_state.json, run_spec.json."""
    if isinstance(doc, list):
        return bool(doc) and isinstance(doc[0], dict) and isinstance(doc[0].get("name"), dict) \
            and "count" in doc[0]
    return isinstance(doc, dict) and ("request_states" in doc or (
        "scenario_spec" in doc and "adapter_spec" in doc))


def other_error(path: Path) -> InputError:
    return InputError(
        "this HELM file holds no per-instance scores", path=str(path), code=E_AGGREGATE,
        hint=f"pass the run directory or its {PER_INSTANCE}",
    )


Doc = tuple[Any, bytes]  # a JSON document parsed, and its bytes


@dataclass(frozen=True)
class _RunFiles:
    """The files of one HELM run as the reader reads them, from a run directory or from a
    HELM run archive: per_instance_stats.json (`doc`, `data`, named `src` in errors), the
    run's `sha256` and `source`, run_spec.json (`spec`: document, or the error W220 records)
    and scenario_state.json, read only for `--cluster` (`state()`: None when the run has none;
    `state_src` names it, `state_hint` is the fix when it is missing or unusable)."""

    doc: Any
    data: bytes
    src: str
    sha256: str
    spec: tuple[dict[str, Any], InputError | None]
    state: Callable[[], Doc | None]
    state_src: str
    state_hint: str
    source: str  # the file the run's SHA-256 is of


def _directory(path: Path, doc: Any, data: bytes | None) -> _RunFiles:
    """A run directory, or its per_instance_stats.json (`doc` and `data` when detection
    parsed it already)."""
    run_dir = path if path.is_dir() else path.parent
    stats_path = path / PER_INSTANCE if path.is_dir() else path
    if not is_file(stats_path):
        raise InputError(f"directory has no {PER_INSTANCE}", path=str(path),
                         hint="pass a HELM run directory (benchmark_output/runs/<suite>/<run>)")
    if doc is None or data is None:
        doc, data = read_json_doc(stats_path)
    state_path = run_dir / _STATE
    return _RunFiles(doc, data, str(stats_path), sha256_hex(data),
                     read_metadata_json(run_dir / _SPEC),
                     lambda: read_json_doc(state_path) if is_file(state_path) else None,
                     str(state_path), "copy the whole HELM run directory", str(stats_path))


def _archive(path: Path, opts: ReadOptions) -> _RunFiles:
    """A HELM run archive: one pass, keeping the members this read needs."""
    wanted = {PER_INSTANCE, _SPEC} | ({_STATE} if opts.cluster is not None else set())
    arc = read_archive(path, wanted)

    def member(name: str) -> Doc:
        src = member_src(path, name)
        data = check_text(arc.data[name], src)
        return parse_json(data, src), data

    doc, data = member(PER_INSTANCE)
    spec = metadata_doc(lambda: member(_SPEC)[0], member_src(path, _SPEC)) \
        if _SPEC in arc.data else ({}, None)
    return _RunFiles(doc, data, member_src(path, PER_INSTANCE), arc.sha256, spec,
                     lambda: member(_STATE) if _STATE in arc.data else None,
                     member_src(path, _STATE), "pack the whole HELM run directory again, "
                     "with its scenario_state.json", str(path))


def read_helm(path: Path, opts: ReadOptions, doc: Any = None,
              data: bytes | None = None) -> EvalRun:
    """Read a run directory, its per_instance_stats.json or a HELM run archive."""
    files = (_archive(path, opts) if doc is None and path.is_file() and sniff_archive(path)
             else _directory(path, doc, data))
    src, doc, data = files.src, files.doc, files.data
    if not sniff_per_instance(doc):
        raise InputError(f"not a HELM {PER_INSTANCE}", path=src,
                         hint="expected a list of {instance_id, train_trial_index, stats}")
    refuse_duplicates(data, doc, _INSTANCE_SPEC, src)
    split = _choose(doc, opts, src)
    metric = str(opts.metric)
    cols = Columns()
    perturbed = 0
    for pos, inst in enumerate(doc):
        if not isinstance(inst, dict):
            raise InputError(f"entry #{pos + 1} is not an object", path=src, code=E_FIELD,
                             hint=f"re-export {PER_INSTANCE}")
        if inst.get("perturbation"):
            perturbed += 1
            continue
        iid = inst.get("instance_id")
        value = _stat_value(inst, metric, split, src, iid)
        if value is None:  # the stat was not computed for this instance (count 0)
            cols.add_errored(iid)
            continue
        cols.ids.append(iid)
        trial = inst.get("train_trial_index", 0)
        if type(trial) is not int or trial < 0:  # true was trial 1 (epoch 2); -1 epoch 0
            raise InputError(f"train_trial_index is {shown_value(trial)}, not an integer from "
                             "0", path=src, item=str(iid), hint=f"re-export {PER_INSTANCE}",
                             code=E_FIELD)
        cols.epochs.append(trial + 1)
        cols.scores.append(value)
    if opts.cluster is not None:
        cols.clusters = _clusters(files, cols.ids, opts.cluster)
    spec, unread = files.spec  # optional: model, task
    name = spec.get("name")  # a number or an object was "internal error" (70) in RunMeta
    meta = dict(run_id=None if name is None else str(name), model=_model(spec),
                task=_task(spec), metric=metric,
                harness="helm", source=files.source, sha256=files.sha256, format="helm",
                status="success", cluster_key=opts.cluster,
                cluster_source=None if opts.cluster is None else "scenario_state extra_data",
                config={"harness": "helm", "task": _task(spec), "split": split,
                        "adapter": _adapter_fingerprint(spec),
                        "perturbed_skipped": perturbed or None},
                unread_metadata=unread_entry(unread))
    return build_run(cols, meta, src)


def _split_of(name: dict[str, Any]) -> str:
    split = str(name.get("split"))
    return f"{split}/{name['sub_split']}" if name.get("sub_split") else split


def _choose(doc: list[Any], opts: ReadOptions, src: str) -> str:
    """Check the metric and pick the split; both are errors listing what exists."""
    names: set[str] = set()
    splits: set[str] = set()
    for inst in doc[:500]:
        stats = inst.get("stats") if isinstance(inst, dict) else None
        for st in stats if isinstance(stats, list) else []:  # _stat_value names a bad one
            n = st.get("name") if isinstance(st, dict) else None
            if isinstance(n, dict) and not n.get("perturbation"):
                names.add(str(n.get("name")))
                if n.get("name") == opts.metric:
                    splits.add(_split_of(n))
    if opts.metric is None or opts.metric not in names:
        what = "no stat was chosen" if opts.metric is None else f"stat {opts.metric!r} not found"
        raise InputError(f"{what}; the file has {sorted(names)}", path=src, code=E_METRIC,
                         hint="choose one of those with --metric (e.g. exact_match)")
    if opts.filter is not None:
        if opts.filter not in splits:
            raise InputError(f"split {opts.filter!r} not found for {opts.metric!r}; the file has "
                             f"{sorted(splits)}", path=src, code=E_METRIC,
                             hint="choose one of those with --filter")
        return opts.filter
    if len(splits) > 1:
        raise InputError(f"stat {opts.metric!r} has several splits {sorted(splits)}", path=src,
                         hint="choose one with --filter", code=E_METRIC)
    return splits.pop()


def _stat_value(inst: dict[str, Any], metric: str, split: str, src: str,
                iid: Any) -> float | None:
    stats = inst.get("stats") or []
    if not isinstance(stats, list):  # -1 raised TypeError (70); a string was iterated
        raise InputError(f"stats is {shown_value(stats)}, not a list", path=src,
                         item=str(iid), hint=f"re-export {PER_INSTANCE}", code=E_FIELD)
    for st in stats:
        n = st.get("name") if isinstance(st, dict) else None
        if (isinstance(n, dict) and n.get("name") == metric and not n.get("perturbation")
                and _split_of(n) == split):
            count, total = st.get("count"), st.get("sum")
            if count == 0:
                return None
            if type(count) not in (int, float) or type(total) not in (int, float) or not (
                    count > 0):  # a negative count flipped the score's sign
                raise InputError(f"stat {metric!r} has count {str(count)[:40]} and sum "
                                 f"{str(total)[:40]}", path=src, item=str(iid),
                                 hint="re-run HELM's summarize step", code=E_FIELD)
            try:
                return float(total) / float(count)
            except OverflowError:  # a sum of 10**400 was "internal error" (70)
                raise InputError(f"stat {metric!r} has a sum beyond float64", path=src,
                                 item=str(iid), hint="re-run HELM's summarize step",
                                 code=E_FIELD) from None
    raise InputError(f"instance has no stat {metric!r} for split {split!r}", path=src,
                     item=str(iid), hint="every instance needs the chosen stat", code=E_METRIC)


def _clusters(files: _RunFiles, ids: list[Any], key: str) -> list[Any]:
    state_path = files.state_src
    found = files.state()
    if found is None:
        raise InputError("--cluster needs scenario_state.json next to the stats",
                         path=state_path, hint=files.state_hint, code=E_METRIC)
    state, data = found
    refuse_duplicates(data, state, {"request_states": {"instance": {
        "id": None, "extra_data": {key: None}}}}, state_path)
    states = state.get("request_states") if isinstance(state, dict) else None
    if not isinstance(states, list):  # 3 raised TypeError (70); a string was iterated
        what = (f"request_states is {shown_value(states)}" if isinstance(state, dict) else
                f"holds a JSON {type(state).__name__}")
        raise InputError(f"{what}, not HELM's list of request states", code=E_FIELD,
                         path=state_path, hint=files.state_hint)
    by_id: dict[str, Any] = {}
    for rs in states:
        inst = rs.get("instance") if isinstance(rs, dict) else None
        if isinstance(inst, dict) and inst.get("id") is not None:
            extra = inst.get("extra_data")
            label = extra.get(key) if isinstance(extra, dict) else None
            by_id.setdefault(str(inst["id"]), label)
    return [by_id.get(str(i)) for i in ids]


def _model(spec: dict[str, Any]) -> str | None:
    ad = spec.get("adapter_spec")
    return str(ad["model"]) if isinstance(ad, dict) and ad.get("model") else None


def _task(spec: dict[str, Any]) -> str | None:
    sc = spec.get("scenario_spec")
    if not isinstance(sc, dict):
        return None
    args = json.dumps(sc.get("args") or {}, sort_keys=True)
    return f"{sc.get('class_name')}{'' if args == '{}' else args}"


def _adapter_fingerprint(spec: dict[str, Any]) -> str | None:
    """A short hash of the adapter spec without the model: prompts, shots, decoding."""
    ad = spec.get("adapter_spec")
    if not isinstance(ad, dict):
        return None
    rest = {k: v for k, v in ad.items() if k not in ("model", "model_deployment")}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:12]
