"""Issue 22: a point's steady state (the ramps left out, one wave marked), answer lengths drawn from a stated
distribution, the physical limit beside every figure, and the engine's steps from vLLM's /metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lightonocr_validation.bench import limits
from lightonocr_validation.bench.steady import ONE_WAVE, STEADY, headline, headline_figure, steady_block, window
from lightonocr_validation.check.verdict import EXIT_OK
from lightonocr_validation.core import published_shapes
from lightonocr_validation.core.errors import UserError
from lightonocr_validation.load import answers
from lightonocr_validation.load.pages import BenchPage
from lightonocr_validation.load.records import RequestRecord
from lightonocr_validation.load.server_time import between, parse_snapshot
from lightonocr_validation.load.transport import Exchange
from tests.bench.test_bench import bench
from tests.bench.test_bench_server_time import recorded_metrics, with_values
from tests.fakevllm.server import Faults

PAGE = BenchPage("prose-01", "data:image/png;base64,", 1190, 1540)


def record(start: float, end: float, ok: bool = True, tokens: int = 1024) -> RequestRecord:
    exchange = Exchange(status=200 if ok else 500, e2e_s=end - start, output_tokens=tokens, prompt_tokens=2377)
    if not ok:
        exchange.error = "HTTP 500"
    return RequestRecord(PAGE, start, exchange)


def closed_loop(concurrency: int, durations: list[float]) -> list[RequestRecord]:
    """What a closed loop of ``concurrency`` workers records when request i takes durations[i]: each worker
    sends its next request as soon as its last one is back."""
    free = [0.0] * concurrency
    records = []
    for duration in durations:
        worker = min(range(concurrency), key=free.__getitem__)
        records.append(record(free[worker], free[worker] + duration))
        free[worker] += duration
    return records


# --- the steady window -----------------------------------------------------------------------------------


def test_the_window_leaves_out_a_slow_first_wave_and_the_drain() -> None:
    # Two in flight: the first wave is a burst (2 s each), then 1 s each: 2 pages/s in steady state.
    records = closed_loop(2, [2.0, 2.0] + [1.0] * 6)
    found = window([(records, 2)])
    assert found is not None and (found.start_s, found.end_s) == (2.0, 4.0)
    block = steady_block([[(records, 2)]])
    assert block["state"] == STEADY and block["waves"] == 4.0 and block["pages_per_s"] == pytest.approx(2.0)
    whole = len(records) / max(r.end_s for r in records)
    assert whole == pytest.approx(1.6)  # the ramps pull the whole point down
    assert block["e2e_s"]["p50"] == pytest.approx(1.0)  # the slow first wave is not in the steady latencies


def test_one_or_two_waves_are_marked_and_keep_the_whole_point() -> None:
    for count in (2, 4):  # one wave, two waves at 2 in flight
        block = steady_block([[(closed_loop(2, [1.0] * count), 2)]])
        assert block["state"] == ONE_WAVE and "3 x concurrency" in block["why"]
        seen = {"pages_per_s": 1.5, "e2e_s": {"p50": 9.0}, "steady": block}
        assert headline(seen) == (1.5, ONE_WAVE)
        assert headline_figure(seen, "e2e_s.p50") == 9.0


def test_a_steady_point_stands_for_its_window_and_failures_do_not_count() -> None:
    records = closed_loop(2, [1.0] * 8)
    records[4].exchange.error = "HTTP 500"
    block = steady_block([[(records, 2)]])
    assert block["finished_in_window"] == 3  # four ended inside (1, 3], one of them failed
    seen = {"pages_per_s": 9.9, "steady": block}
    assert headline(seen) == (pytest.approx(1.5), "")
    assert headline({"pages_per_s": 3.0, "steady": None}) == (3.0, "")  # rate mode: no waves, no mark


def test_runs_pool_their_windows_and_a_fleet_shares_one_clock() -> None:
    fast, slow = closed_loop(2, [1.0] * 8), closed_loop(2, [2.0] * 8)
    pooled = steady_block([[(fast, 2)], [(slow, 2)]])
    assert pooled["pages_per_s"] == pytest.approx((4 + 4) / (2.0 + 4.0))
    fleet = window([(fast, 2), (slow, 2)])  # opens when the slower host's first wave is back
    assert fleet is not None and (fleet.start_s, fleet.end_s) == (2.0, 3.0)


def test_a_point_drained_before_its_first_wave_returned_has_no_window() -> None:
    # Ten in flight, three answered: the drain began before a wave was back, so there is no steady stretch.
    records = closed_loop(3, [1.0] * 3)
    assert window([(records, 10)]) is None
    block = steady_block([[(records, 10)]])
    assert block["state"] == ONE_WAVE and block["pages_per_s"] is None


# --- answer lengths ---------------------------------------------------------------------------------------


def test_answer_lengths_parse_and_draw_the_same_lengths_from_a_seed() -> None:
    uniform = answers.parse("uniform:256-1024")
    drawn = [uniform.draw(i, seed=3) for i in range(200)]
    assert drawn == [uniform.draw(i, seed=3) for i in range(200)] and min(drawn) >= 256 and max(drawn) <= 1024
    assert len(set(drawn)) > 50 and drawn != [uniform.draw(i, seed=4) for i in range(200)]
    assert answers.parse("fixed:1024").draw(7) == 1024 and answers.parse("fixed:1024").text == "fixed:1024"
    lognormal = answers.parse("lognormal:600,0.5,1024")
    values = [lognormal.draw(i) for i in range(500)]
    assert max(values) == 1024 and 400 < sorted(values)[250] < 800  # clipped at MAX, median near 600
    assert lognormal.mean == pytest.approx(600 * math.exp(0.125))


@pytest.mark.parametrize("spec", ["uniform:9-3", "fixed:0", "lognormal:600", "normal:5", "uniform:a-b", "fixed:"])
def test_a_distribution_that_cannot_be_read_names_the_forms(spec: str) -> None:
    with pytest.raises(answers.AnswerLengthError, match=r"fixed:N|at least 1"):
        answers.parse(spec)


def test_each_body_carries_its_own_drawn_length() -> None:
    lengths = answers.parse("uniform:1-99")
    bodies = answers.AnswerBodies({"p": {"model": "m", "messages": [], "max_tokens": 5, "ignore_eos": True}}, lengths)
    sent = [json.loads(bodies.body("p", i)) for i in range(20)]
    assert [b["max_tokens"] for b in sent] == [lengths.draw(i) for i in range(20)]
    assert all(b["ignore_eos"] and b["model"] == "m" for b in sent)


def test_drawn_answers_with_a_staggered_start_are_measured_in_steady_state(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm(Faults(token_delay=0.004))
    code, result, output = bench(
        tmp_path, fake.url, answer_tokens="uniform:3-30", waves=4.0, concurrency=3, ramp=0.03, requests=None
    )
    assert code == EXIT_OK, output
    settings = result["settings"]
    assert settings["answer_tokens"]["distribution"] == "uniform:3-30" and settings["ignore_eos"]
    assert (settings["waves"], settings["ramp_s"], settings["max_tokens"]) == (4.0, 0.03, 30)
    assert not settings["accuracy_judged"]
    (point,) = result["hosts"][0]["points"]
    lengths = [r["output_tokens"] for r in point["requests"]]
    assert len(lengths) == 12 and all(3 <= n <= 30 for n in lengths) and len(set(lengths)) > 3, str(lengths)
    assert point["figures"]["steady"]["state"] == STEADY, point["figures"]["steady"]
    assert "steady 4.0 waves" in output
    starts = sorted(r["start_s"] for r in point["requests"])[:3]
    # The third worker starts 2 x 0.03 / 3 = 0.02 s after the first; the first's start is stamped a moment after
    # its scheduled time (0.3 ms on a loaded CI machine, which made the difference 0.0199), and unstaggered
    # workers start within a millisecond of each other.
    assert starts[2] - starts[0] >= 0.015


def test_a_single_wave_is_marked_in_the_console_and_the_result(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm()
    code, result, output = bench(tmp_path, fake.url, concurrency=4, requests=4, max_tokens=8)
    assert code == EXIT_OK, output
    load = result["hosts"][0]["summary"]["loads"][0]
    assert load["figures"]["steady"]["state"] == ONE_WAVE and ONE_WAVE in output
    assert result["hosts"][0]["summary"]["best_pages_per_s"]["mark"] == ONE_WAVE


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"answer_tokens": "uniform:5"}, "fixed:N"),
        ({"answer_tokens": "fixed:8", "max_tokens": 8}, "give one of them"),
        ({"waves": 3.0, "requests": 9}, "drop --requests"),
        ({"waves": 0.0, "requests": None}, "above 0"),
        ({"waves": 3.0, "rate": 2.0, "requests": None}, "open loop"),
        ({"ramp": -1.0}, "0 or more"),
        ({"gpu": "Voodoo 2"}, "not in the table"),
    ],
)
def test_bad_steady_state_flags_are_refused_before_anything_is_sent(
    fake_vllm, tmp_path: Path, overrides: dict, message: str
) -> None:
    fake = fake_vllm()
    with pytest.raises(UserError, match=message):
        bench(tmp_path, fake.url, **overrides)
    assert fake.counters.get("vllm:prompt_tokens_total", 0) == 0


def test_steady_latencies_are_those_of_every_request_finished_in_the_window() -> None:
    # Fixed-length answers keep a closed loop in lockstep: the window spans one wave, and the second wave's
    # requests started a little before it opened (each worker resends as soon as its answer is back). Every
    # one of them counts, not only the last to start (the rule until 2026-12-07, under which the e2e of one
    # request stood as p50 and p95: 59.27 s both for the card on the lent H100).
    records = closed_loop(4, [10.0, 10.1, 10.2, 10.3] + [9.0, 10.0, 11.0, 12.0] + [10.0] * 4)
    block = steady_block([[(records, 4)]])
    assert block["state"] == STEADY and block["finished_in_window"] == 4
    assert 10.0 <= block["e2e_s"]["p50"] <= 11.0 and block["e2e_s"]["p95"] > 11.5
    assert block["e2e_s"]["mean"] == pytest.approx(10.5)


# --- the limit ----------------------------------------------------------------------------------------------


def test_the_h200_limit_for_a_letter_page_and_1024_tokens_matches_the_hand_count() -> None:
    # Issue 22's figures: KV reads about 14 pages/s, prefill about 28 at half of peak, about 9-11 together.
    records = [record(0, 1) for _ in range(4)]
    card = limits.resolve_card("H200", [], [])
    block = limits.limit_block(records, 128, card, limits.ModelShape(), pages_per_s=4.5)
    assert block["patches"] == 9350 and block["prompt_tokens"] == 2377 and block["answer_tokens"] == 1024
    assert block["vision_tflop_per_page"] == pytest.approx(16.15, abs=0.01)
    assert 13 < block["decode_pages_per_s"] < 15 and 25 < block["prefill_pages_per_s"] < 29
    assert 8.5 < block["combined_pages_per_s"] < 9.5
    assert block["share"] == pytest.approx(4.5 / block["combined_pages_per_s"])
    # Shorter answers read less KV cache: the decode limit rises, the prefill limit does not move.
    short = limits.limit_block([record(0, 1, tokens=512)], 128, card, limits.ModelShape(), 4.5)
    assert short["decode_pages_per_s"] > 2 * block["decode_pages_per_s"]
    assert short["prefill_pages_per_s"] == block["prefill_pages_per_s"]


def test_the_served_models_config_gives_the_shapes(tmp_path: Path) -> None:
    config = {"text_config": {"num_hidden_layers": 14, "hidden_size": 1024, "num_attention_heads": 16}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    shape = limits.served_shape(str(tmp_path))
    assert shape.text_layers == 14 and shape.text_kv_heads == 16 and shape.source.endswith("config.json")
    # No head_dim: hidden / heads = 64; 14 layers x 16 KV heads x 64 is half of 28 x 8 x 128.
    assert shape.text_head_dim == 64 and shape.kv_bytes_per_token == limits.ModelShape().kv_bytes_per_token // 2
    assert limits.served_shape("lightonai/LightOnOCR-2-1B") == limits.ModelShape()  # not a folder: built in


def test_a_hybrid_decoder_is_held_against_its_own_limit() -> None:
    # LightOnOCR-3-4B (Qwen3.5): 8 of 32 layers keep a KV cache (4 KV heads of 256), the 24 gated-delta layers
    # read and write a fixed state (32 value heads x 128 x 128) at every step, whatever the context.
    shape = limits.profile_shape("LightOnOCR-3-4B")
    assert shape.architecture == "qwen3_5" and shape.full_layers == 8 and shape.linear_layers == 24
    assert shape.kv_bytes_per_token == 8 * 2 * 4 * 256 * 2
    assert shape.linear_state_bytes_per_step == 2 * 24 * 32 * 128 * 128 * 2
    assert limits.served_shape("lightonai/LightOnOCR-3-4B", "LightOnOCR-3-4B") == shape  # not a folder
    assert limits.served_shape("lightonai/LightOnOCR-2-1B", "LightOnOCR-2-1B") == limits.ModelShape()
    # The lent H100's steady 7.56 pages/s (prose-01, 1,790 prompt tokens, 1,024-token answers, 128 in
    # flight) lies under the hybrid's limit; LightOnOCR-2-1B's all-attention shapes put it at 118 %.
    page = BenchPage("prose-01", "data:image/png;base64,", 1190, 1540)
    done = [RequestRecord(page, 0.0, Exchange(status=200, e2e_s=20.0, output_tokens=1024, prompt_tokens=1790))]
    card = limits.resolve_card("H100 SXM", [], [])
    hybrid = limits.limit_block(done, 128, card, shape, pages_per_s=7.56)
    assert 9.0 < hybrid["combined_pages_per_s"] < 10.5 and hybrid["share"] < 1
    vision = published_shapes.QWEN35["LightOnOCR-3-4B"]["vision"]
    qwen_config = {"model_type": "qwen3_5", "text_config": shape_text(), "vision_config": vision}
    assert limits.shape_from_config(qwen_config, "x").kv_bytes_per_token == shape.kv_bytes_per_token


def shape_text() -> dict:
    text = dict(published_shapes.QWEN35["LightOnOCR-3-4B"]["text"])
    return {**text, "layer_types": published_shapes.qwen35_layer_types(text)}


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("NVIDIA H200", "H200"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("NVIDIA H100 PCIe", "H100 PCIe"),
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA L4", "L4"),
        ("Tesla T4", None),
    ],
)
def test_gpu_names_find_their_datasheet_row(name: str, row: str | None) -> None:
    found = limits.find_gpu(name)
    assert (found.name if found else None) == row


def test_the_card_is_named_local_or_unknown() -> None:
    assert limits.resolve_card(None, ["127.0.0.1"], ["NVIDIA H200"]).spec.name == "H200"
    remote = limits.resolve_card(None, ["gpu.example.com"], ["NVIDIA H200"])
    assert remote.spec is None and remote.found_by.startswith("unknown")
    unknown = limits.limit_block([record(0, 1)], 64, remote, limits.ModelShape(), 3.0)
    assert unknown["combined_pages_per_s"] is None and unknown["share"] is None and unknown["patches"] == 9350


def test_bench_prints_the_limit_beside_the_figures(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm()
    code, result, output = bench(tmp_path, fake.url, concurrency=2, waves=3.0, requests=None, gpu="H200")
    assert code == EXIT_OK, output
    assert result["settings"]["gpu"]["name"] == "H200" and result["settings"]["gpu"]["found_by"] == "--gpu"
    block = result["hosts"][0]["summary"]["loads"][0]["figures"]["limit"]
    assert block["combined_pages_per_s"] > 0 and block["share"] is not None
    assert "against the limit (H200" in output


# --- the engine's steps --------------------------------------------------------------------------------------


def test_steps_that_carry_prompt_tokens_are_counted_and_decode_steps_are_not(fake_vllm, tmp_path: Path) -> None:
    fake = fake_vllm()
    code, result, output = bench(tmp_path, fake.url, concurrency=2, requests=6, max_tokens=8)
    assert code == EXIT_OK, output
    engine = result["hosts"][0]["points"][0]["server_time"]["engine"]
    # The fake serves each request as vLLM alone would: one step with the prompt, then one per further token.
    assert engine["steps"] == 6 * 8 and engine["steps_with_prefill_at_least"] == 6
    assert engine["step_bound_tokens"] == 8 and engine["generation_tokens"] == 48
    assert engine["estimated_flops"] is None  # the MFU counters stay at 0 without --enable-mfu-metrics


def test_an_engine_counter_that_went_back_drops_the_engine_part_only() -> None:
    text = recorded_metrics()
    before = parse_snapshot(with_values(text, {"vllm:generation_tokens_total": 50.0}))
    after = parse_snapshot(with_values(text, {"vllm:generation_tokens_total": 10.0}))
    found = between(before, after)
    assert found is not None and found.as_dict(4)["engine"] is None and found.as_dict(4)["requests"] == 0


# --- invoke tune ---------------------------------------------------------------------------------------------


def test_tune_ranks_by_the_steady_state_and_keeps_numerics_changes_out_of_the_best() -> None:
    from lightonocr_validation.tune import command as tune
    from lightonocr_validation.tune.grid import BF16, GRIDS

    steady_grid = GRIDS["steady"]
    assert steady_grid[0].name == "card"
    # Every fp8 KV cache configuration, and only those, is marked as changing the numerics.
    assert all((c.numerics == BF16) == ("--kv-cache-dtype" not in c.args) for c in steady_grid)
    assert all(c.numerics.startswith("fp8") for c in steady_grid if "--kv-cache-dtype" in c.args)
    assert {"tuned-fp8-kv", "varlen-batched-8192-fp8-kv"} <= {c.name for c in steady_grid if c.numerics != BF16}
    steady = steady_block([[(closed_loop(2, [2.0, 2.0] + [1.0] * 6), 2)]])
    figures = {
        "requests": 8, "completed": 8, "errors": 0, "pages_per_s": 1.6, "output_tokens_per_s": 1.0,
        "e2e_s": {"p50": 1.5, "p95": 2.0}, "ttft_s": None, "itl_s": None, "steady": steady,
        "limit": {"combined_pages_per_s": 9.0, "decode_pages_per_s": 13.8, "prefill_pages_per_s": 26.2,
                  "share": 2.0 / 9.0, "gpu": "H200"},
    }  # fmt: skip
    server = {
        "prefill_s": 2.6,
        "decode_s": 27.0,
        "queue_s": 0.0,
        "engine": {"steps": 900, "steps_with_prefill_at_least": 200},
    }
    key = tune.key_figures({"hosts": [{"points": [{"concurrency": 2, "figures": figures, "server_time": server}]}]})
    assert key["pages_per_s"] == pytest.approx(2.0) and key["whole_point_pages_per_s"] == 1.6
    assert key["state"] == "steady" and key["e2e_p50_s"] == pytest.approx(1.0)
    assert (key["prefill_s"], key["decode_s"], key["steps_with_prefill_at_least"]) == (2.6, 27.0, 200)
    assert key["share_of_limit"] == pytest.approx(2 / 9) and key["limit_pages_per_s"] == 9.0
    one_wave = dict(figures, steady=steady_block([[(closed_loop(2, [1.0] * 2), 2)]]))
    marked = tune.key_figures({"hosts": [{"points": [{"concurrency": 2, "figures": one_wave}]}]})
    assert marked["state"] == ONE_WAVE and marked["pages_per_s"] == 1.6

    def row(name: str, rate: float, numerics: str = BF16, errors: int = 0) -> dict:
        return {"name": name, "status": "ok", "numerics": numerics, "figures": {"pages_per_s": rate, "errors": errors}}

    records = [row("card", 2.7), row("tuned", 4.2), row("tuned-fp8-kv", 4.4, "fp8 KV cache"), row("bad", 5.0, errors=1)]
    assert tune.best_of(records)["name"] == "tuned"


def test_compare_judges_steady_pages_per_s_and_says_when_a_side_is_one_wave(fake_vllm, tmp_path: Path) -> None:
    from lightonocr_validation.bench.compare import compare_results

    fake = fake_vllm()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, steady_run, _ = bench(tmp_path / "a", fake.url, concurrency=2, waves=4.0, requests=None, max_tokens=8)
    _, one_wave, _ = bench(tmp_path / "b", fake.url, concurrency=2, requests=2, max_tokens=8)
    same = compare_results(steady_run, steady_run)
    assert not any(ONE_WAVE in note for note in same.notes)
    assert {r.verdict.value for r in same.rows if r.figure.label == "steady pages/s"} == {"same"}
    mixed = compare_results(steady_run, one_wave)
    assert any("this run's point is one wave" in note for note in mixed.notes)
    assert {r.verdict.value for r in mixed.rows if r.figure.label == "steady pages/s"} == {"n/a"}
