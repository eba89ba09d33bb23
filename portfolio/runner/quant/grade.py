"""Turn the quantizer's steps' outputs into the result's tests. Standard library only.

`compare(quantized, dequantized, truth, claims, claim_errors)`:

* quantized / dequantized  harness_learner's "results" of the two learner steps
* truth                    harness_truth's "settings" (measured by our code)
* claims                   cases.validate_claims's claims, or None with claim_errors

Every test carries details["category"] and details["hint"]. A public test also shows the setting,
the measured figure (observed) and what passes (expected); a hidden one only its category, hint,
status and a ratio to the reference, never its inputs or expected values (runner README: the
learner may see the whole result).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portfolio.runner import casetable, protocol
from portfolio.runner.quant import cases as table

_FAILED_CALL = {
    "error": "failed",
    "timeout": "too slow",
    "missing": "not defined",
    "no_import": "could not be imported",
}


def _sig(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def _call_failure(setting: str, layers: Sequence[str], *steps: Mapping[str, Any]) -> str:
    """The first failed quantize/dequantize call of a setting, as a sentence; "" when none failed."""
    for results, function in zip(steps, ("quantize", "dequantize"), strict=False):
        for layer in layers:
            result = results.get(table.tensor_id(setting, layer)) or {"status": "error", "message": "no result"}
            if result.get("status") != "ok":
                reason = _FAILED_CALL.get(str(result.get("status")), "failed")
                return f"{function}() {reason} on {layer}: {result.get('message', '')}".strip()
    return ""


def _check(
    item: table.Case,
    record: Mapping[str, Any],
    scheme: str,
    claims: Mapping[str, Any] | None,
    claim_errors: list[dict[str, str]],
) -> tuple[bool, str, Any, Any, dict[str, Any]]:
    """(passed, message, observed, expected, extra details) of one case whose calls all succeeded."""
    category = item["category"]
    reference = record["reference"][scheme]
    learner = record["learner"] or {}
    if category == table.STORAGE:
        storage = record["storage"]
        ok = storage["bytes"] <= storage["bound"] and not storage["missing"]
        message = f"{storage['bytes']:,} bytes, {storage['bits_per_weight']:.3f} bits per weight; at most {storage['bound']:,} allowed"
        return ok, message, storage["bytes"], storage["bound"], {"bits_per_weight": _sig(storage["bits_per_weight"])}
    if category in (table.RECONSTRUCTION, table.PARTIAL_GROUP):
        key = "full_group_error" if category == table.RECONSTRUCTION else "partial_group_error"
        observed, ref = learner[key], reference[key]
        limit = table.ERROR_MARGIN * ref
        ok = observed <= limit
        message = f"relative error {observed:.4g}, {observed / ref:.2f}x round-to-nearest's {ref:.4g} ({scheme}); at most {table.ERROR_MARGIN}x passes"
        return ok, message, _sig(observed), _sig(limit), {"reference": _sig(ref), "ratio": _sig(observed / ref)}
    if category == table.MODEL_OUTPUTS:
        kl, top1 = learner["kl_divergence"], learner["top1_agreement"]
        kl_limit = table.KL_MARGIN * reference["kl_divergence"] + table.KL_SLACK
        top1_floor = reference["top1_agreement"] - table.TOP1_SLACK
        ok = kl <= kl_limit and top1 >= top1_floor
        message = (
            f"KL {kl:.4g} nats (round-to-nearest {reference['kl_divergence']:.4g}, at most {kl_limit:.4g}); "
            f"top-1 agreement {top1:.3f} (round-to-nearest {reference['top1_agreement']:.3f}, at least {top1_floor:.3f})"
        )
        observed = {"kl_divergence": _sig(kl), "top1_agreement": _sig(top1)}
        expected = {"kl_divergence_max": _sig(kl_limit), "top1_agreement_min": _sig(top1_floor)}
        ratio = kl / reference["kl_divergence"] if reference["kl_divergence"] else None
        return ok, message, observed, expected, {"ratio": _sig(ratio)}
    if category == table.QMATMUL:
        errors = record["qmatmul"]
        worst = max((e for e in errors.values() if e is not None), default=None)
        ok = (
            len(errors) == len(table.QMATMUL_LAYERS)
            and None not in errors.values()
            and worst is not None
            and worst <= table.QMATMUL_TOLERANCE
        )
        message = (
            f"worst relative difference from x @ dequantize(...).T: {worst:.3g}"
            if worst is not None
            else "no usable qmatmul output"
        )
        return ok, message, _sig(worst), table.QMATMUL_TOLERANCE, {}
    # claims
    if claims is None:
        first = claim_errors[0] if claim_errors else {"path": "", "message": "missing"}
        where = f"{table.CLAIMS_FILE} {first['path']}".strip()
        return False, f"{where}: {first['message']}", None, None, {"claim_errors": claim_errors[:10]}
    claimed = claims["by_setting"][item["setting"]]
    measured = {
        "bits_per_weight": record["storage"]["bits_per_weight"],
        "weight_rel_error": learner["weight_rel_error"],
        "kl_divergence": learner["kl_divergence"],
        "top1_agreement": learner["top1_agreement"],
    }
    rows = {
        field: {
            "claimed": claimed[field],
            "measured": _sig(measured[field]),
            "matches": table.claim_matches(field, claimed[field], measured[field]),
        }
        for field in table.CLAIM_FIELDS
    }
    wrong = [field for field, row in rows.items() if not row["matches"]]
    message = (
        "every claim matches the measurement"
        if not wrong
        else "; ".join(
            f"{field}: claimed {rows[field]['claimed']:.4g}, measured {rows[field]['measured']:.4g}" for field in wrong
        )
    )
    return (
        not wrong,
        message,
        {f: r["measured"] for f, r in rows.items()},
        {f: r["claimed"] for f, r in rows.items()},
        {"claims": rows},
    )


def compare(
    quantized: Mapping[str, Any],
    dequantized: Mapping[str, Any],
    truth: Mapping[str, Any],
    claims: Mapping[str, Any] | None,
    claim_errors: list[dict[str, str]],
    *,
    has_qmatmul: bool,
) -> dict[str, Any]:
    scheme = claims["scheme"] if claims else table.ASYMMETRIC
    tests: list[dict[str, Any]] = []
    skipped: list[str] = []
    for item in table.all_cases():
        if item["category"] == table.QMATMUL and not has_qmatmul:
            skipped.append(item["name"])
            continue
        setting = table.setting(item["setting"])
        hidden = item["visibility"] == table.HIDDEN
        details: dict[str, Any] = {"category": item["category"], "hint": item["hint"]}
        if not hidden:
            details.update(
                setting=setting["key"], bits=setting["bits"], group_size=setting["group_size"], scheme=scheme
            )
        record = truth.get(setting["key"])
        if record is None:
            raise KeyError(f"the truth step did not measure setting {setting['key']}")
        layers = list(table.linear_shapes(setting["model"]))
        failure = _call_failure(setting["key"], layers, quantized, dequantized)
        if item["category"] == table.QMATMUL and not failure:
            failure = next(
                (
                    f"qmatmul() {_FAILED_CALL.get(str(q.get('status')), 'failed')} on {layer}: {q.get('message', '')}"
                    for layer in table.QMATMUL_LAYERS
                    for q in [
                        (dequantized.get(table.tensor_id(setting["key"], layer)) or {}).get("qmatmul")
                        or {"status": "error", "message": "not called"}
                    ]
                    if q.get("status") != "ok"
                ),
                "",
            )
        if failure and item["category"] != table.STORAGE:
            tests.append(
                protocol.make_test(
                    item["name"], "error", visibility=item["visibility"], message=failure, details=details
                )
            )
            continue
        ok, message, observed, expected, extra = _check(item, record, scheme, claims, claim_errors)
        if hidden:
            ratio = extra.get("ratio")
            message = ("passed" if ok else "failed") + (f": {ratio:.2f}x the reference" if ratio else "")
            tests.append(
                protocol.make_test(
                    item["name"], "passed" if ok else "failed", visibility="hidden", message=message, details=details
                )
            )
        else:
            tests.append(
                protocol.make_test(
                    item["name"],
                    "passed" if ok else "failed",
                    visibility="visible",
                    expected=expected,
                    observed=observed,
                    message=message,
                    details={**details, **extra},
                )
            )
    note = f"; qmatmul is not defined, so its {len(skipped)} cases were not graded" if skipped else ""
    return casetable.graded(
        tests,
        note=note,
        skipped=skipped,
        scheme=scheme,
        claims_valid=claims is not None,
        claims=_claims_table(truth, claims),
    )


def _claims_table(truth: Mapping[str, Any], claims: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Measured beside claimed for each public setting (the run page's table)."""
    rows = []
    for item in table.public_settings():
        record = truth.get(item["key"]) or {}
        learner = record.get("learner") or {}
        measured = {
            "bits_per_weight": (record.get("storage") or {}).get("bits_per_weight"),
            **{field: learner.get(field) for field in table.CLAIM_FIELDS[1:]},
        }
        claimed = (claims or {}).get("by_setting", {}).get(item["key"], {})
        for field in table.CLAIM_FIELDS:
            value = measured.get(field)
            mine = claimed.get(field)
            rows.append(
                {
                    "setting": item["key"],
                    "field": field,
                    "measured": _sig(value),
                    "claimed": mine,
                    "matches": None if value is None or mine is None else table.claim_matches(field, mine, value),
                }
            )
    return rows
