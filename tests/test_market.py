"""Market model (issue 12): the claims dataset against the seed texts, the growth arithmetic
against hand calculations, the contradiction audit, and the CLI's error handling.

The seeds are read from ``tests/data/seeds`` (copies of the project's source documents, so a
clean clone passes); their SHA-256 must equal the hashes in the shipped data file, and when the
originals in ``/work/shared/seeds`` exist the copies must be identical to them.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from camtwin.errors import ConfigError, UnknownNameError
from camtwin.market.audit import CHECKS, audit
from camtwin.market.data import Claim, MarketData, load_market_data
from camtwin.market.forecast import (forecast, implied_cagr, plot_forecast, project,
                                     series_names, years_needed)
from camtwin.market.seeds import (normalise_ws, numeric_tokens, uncovered_tokens,
                                  visible_text)

SEEDS = Path(__file__).parent / "data" / "seeds"
ORIGINAL_SEEDS = Path("/work/shared/seeds")

#: Tolerance for rates: the brief asks for agreement with hand calculations to 0.01 pp.
PP_TOL = 0.01
#: Tolerance for money [US$ bn]: hand values below are printed to 1e-6 bn or better.
BN_TOL = 1e-6


@pytest.fixture(scope="module")
def data() -> MarketData:
    return load_market_data()


@pytest.fixture(scope="module")
def seeds(data) -> dict[str, str]:
    return {s.file: (SEEDS / s.file).read_text(encoding="utf-8") for s in data.sources}


# --- the dataset against the seeds ---------------------------------------------------------

def test_seed_copies_are_the_sources(data):
    assert len(data.sources) == 3
    for s in data.sources:
        raw = (SEEDS / s.file).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == s.sha256, s.file
        if (ORIGINAL_SEEDS / s.file).exists():
            assert (ORIGINAL_SEEDS / s.file).read_bytes() == raw


def test_every_quote_is_in_its_source(data, seeds):
    """Claim quotes are substrings of the raw file (whitespace-normalised); segment and
    region quotes of the visible text (they span HTML list items)."""
    for c in data.claims:
        assert normalise_ws(c.quote) in normalise_ws(seeds[c.source]), c.id
    for s in data.segments:
        for q in (s.quote, s.list_item):
            if q:
                assert normalise_ws(q) in visible_text(seeds[s.source]), s.id
    for r in data.regions:
        for e in r.evidence:
            assert normalise_ws(e.quote) in visible_text(seeds[e.source]), r.id
    for i in data.ignored:
        assert normalise_ws(i.context) in visible_text(seeds[i.source]), i.context


def test_claim_values_are_printed_in_their_quote(data):
    """Each value a claim states appears in its sentence as printed (no invented numbers;
    1,873 is printed with a thousands separator). A year or period the sentence implies
    without printing it ('the next six years', 'the same year') needs a note saying how it
    was filled in."""
    for c in data.claims:
        printed = {tok.value for tok in numeric_tokens(c.quote)}
        for v in (c.value, c.value_low, c.value_high, *c.context.values()):
            if v is not None:
                assert float(v) in printed, (c.id, v)
        for y in (c.year, c.period_start, c.period_end):
            if y is not None and float(y) not in printed:
                assert c.note, (c.id, y)


def test_every_number_in_the_seeds_is_captured_or_ignored(data, seeds):
    counts = {}
    for source, raw in seeds.items():
        tokens = numeric_tokens(visible_text(raw))
        counts[source] = len(tokens)
        missing = uncovered_tokens(data, source, raw)
        assert not missing, [(t.text, snippet) for t, snippet in missing]
    # The counts pin the tokenisation; tallied by hand, sentence by sentence:
    # 000: title 2 + headline 7 + U.S./China 3 + CCD 3 + top five 2 + table headings 10
    #      + founding year 1 + "3D" 1 + Q1..Q5/A1..A5 10 + A5 sentence 5 + address 2
    #      + phone 2 = 48
    # 001: date 1 + Sony QE 3 + IMX989 3 + Sunny yield 4 + Huawei 2 + Vietnam 2 + margin 1
    #      + AI Act 3 + AF 3 + DJI 3 + compliance 4 + Asia/Europe 5 + phones 2 = 36
    # 002: title 2 + 13.5 % 1 + Sony 1 + ST 1 + $20 bn 2 + 15 % 2 + resolution list 4
    #      + resolution sentences 4 + regional shares 4 = 21
    assert counts == {"000_6145324f45bddb44.txt": 48, "001_d17f6e267cec22a9.txt": 36,
                      "002_98b8b32c6266a997.txt": 21}


def test_coverage_detects_a_missing_claim(data, seeds):
    """Dropping one claim leaves its number uncovered (the coverage test can fail)."""
    source = "001_d17f6e267cec22a9.txt"
    dropped = data.model_copy(update={"claims": tuple(c for c in data.claims
                                                      if c.id != "s001-huawei-patents")})
    missing = uncovered_tokens(dropped, source, seeds[source])
    assert [t.text for t, _ in missing] == ["1,873"]
    # a claim with a wrong value does not cover the printed one either
    wrong = [c.model_copy(update={"value": 1874.0}) if c.id == "s001-huawei-patents" else c
             for c in data.claims]
    missing = uncovered_tokens(data.model_copy(update={"claims": tuple(wrong)}), source,
                               seeds[source])
    assert [t.text for t, _ in missing] == ["1,873"]


def test_counts_and_technology_tags(data):
    tech = {c.id for c in data.select(tag="technology")}
    # the technology claims the brief names: QE 85 %, +40 % night SNR, 3 µm AF, 85 % yield
    assert {"s001-sony-qe", "s001-huawei-night-snr", "s001-china-af-accuracy-2026",
            "s001-sunny-yield-2025"} <= tech
    assert data.claim("s001-sony-qe").value == 85
    assert data.claim("s001-huawei-night-snr").value == 40
    assert data.claim("s001-china-af-accuracy-2026").unit == "um"
    assert len(data.claims) == 44 and len(tech) == 9 and len(data.ignored) == 30


def test_bad_claims_are_one_line_errors():
    base = dict(id="x-1", source="s", quote="a quoted sentence", metric="cagr", value=5.0,
                unit="%", market="m", status="projection", tags=["growth"])
    assert Claim(**base).decimals == 1                    # 5.0 as written in Python
    assert Claim(**{**base, "value": 5}).decimals == 0
    with pytest.raises(ConfigError, match="unit 'USD_bn' does not fit metric 'cagr'") as e:
        Claim(**{**base, "unit": "USD_bn"})
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="unknown metric 'growth'.*valid choices"):
        Claim(**{**base, "metric": "growth"})
    with pytest.raises(ConfigError, match="either value or both"):
        Claim(**{**base, "value_low": 1.0})
    with pytest.raises(ConfigError, match=r"tags = .*valid choices"):
        Claim(**{**base, "tags": ["nonsense"]})
    with pytest.raises(ConfigError, match="valeu: unknown field"):
        Claim(**{**base, "valeu": 3})


def test_dataset_cross_references_are_checked(data):
    raw = data.model_dump()
    raw["claims"][0]["market"] = "no_such_market"
    with pytest.raises(ConfigError, match="market 'no_such_market' is not defined"):
        MarketData.from_dict(raw)


def test_printed_decimals_set_the_rounding_interval(data):
    c = data.claim("s000-cagr-2024-2032")          # "5.7%": 5.65 .. 5.75
    assert c.decimals == 1
    assert c.interval == pytest.approx((5.65, 5.75))
    assert data.claim("s000-us-2024").interval == pytest.approx((1.115, 1.125))  # "$1.12"
    assert data.claim("s001-asia-size-2025").interval == pytest.approx((659.5, 660.5))
    assert data.claim("s001-imx989-profit-margin").interval == (47.0, math.inf)  # "exceeding"


# --- arithmetic against hand calculations -----------------------------------------------------

def test_implied_cagr_hand_calculation():
    # 16.3 / 10.6 = 1.537735849; ln = 0.430311107; / 8 = 0.053788888; exp = 1.055261801
    # -> 5.5261801 %
    assert implied_cagr(10.6, 16.3, 8) == pytest.approx(5.5261801, abs=PP_TOL)
    assert abs(implied_cagr(10.6, 16.3, 8) - 5.53) < PP_TOL
    # 100 -> 121 in 2 years: sqrt(1.21) = 1.1 -> 10 %
    assert implied_cagr(100, 121, 2) == pytest.approx(10.0, abs=1e-12)
    # years the stated 5.7 % needs: ln(1.537735849) / ln(1.057) = 0.430311 / 0.055435 = 7.762
    assert years_needed(10.6, 16.3, 5.7) == pytest.approx(7.7625, abs=1e-3)
    with pytest.raises(ConfigError):
        implied_cagr(0.0, 1.0, 3)
    with pytest.raises(ConfigError):
        implied_cagr(1.0, 2.0, 0)


def test_projection_hand_calculation():
    # 1.057^6 = 1.394600844; x 10.6 = 14.782768951
    assert project(10.6, 5.7, 6) == pytest.approx(14.782768951, abs=BN_TOL)
    # 1.074^6 = 1.534707757; 3.05 / 1.534707757 = 1.987349048 (CCD segment back to 2025)
    assert project(3.05, 7.4, -6) == pytest.approx(1.987349048, abs=BN_TOL)


def test_forecast_miniature_market(data, tmp_path):
    fc = forecast("miniature_camera_modules", 2032)
    assert fc.base_year == 2024 and fc.base_value == 10.6 and fc.unit == "USD_bn"
    rates = {r.kind: r.cagr_pct for r in fc.rates}
    assert rates["stated"] == 5.7
    assert abs(rates["implied"] - 5.5261801) < PP_TOL
    i2030 = fc.years.index(2030)
    # stated: 10.6 x 1.057^6 = 14.782768951 ; 2032: 10.6 x 1.057^8 = 16.516033828
    assert fc.high[i2030] == pytest.approx(14.782768951, abs=BN_TOL)
    assert fc.high[-1] == pytest.approx(16.516033828, abs=BN_TOL)
    # the implied rate reproduces the stated 2032 point exactly
    assert fc.low[-1] == pytest.approx(16.3, abs=BN_TOL)
    assert [(p.year, p.value) for p in fc.stated] == [(2024, 10.6), (2032, 16.3)]
    assert fc.stated[0].claims == ("s000-size-2024", "s000-faq-size-2024")
    png = plot_forecast(fc, tmp_path / "fc.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forecast_range_when_sources_disagree():
    """The BSI GS CMOS market has two rates and no size: an index with its range."""
    fc = forecast("bsi-gs-cmos-sensor", 2028)
    assert fc.unit == "index" and fc.base_year == 2025 and fc.base_value == 1.0
    # 1.135^3 = 1.462135375 ; 1.15^3 = 1.520875
    assert fc.at(2028) == pytest.approx((1.462135375, 1.520875), abs=1e-9)
    assert sorted(r.cagr_pct for r in fc.rates) == [13.5, 15.0]


def test_forecast_regional_and_segment_series():
    # Asia: 660 x 1.097^5 = 1048.520856 (2030)
    fc = forecast("camera_modules:asia", 2030)
    assert fc.at(2030)[0] == pytest.approx(1048.520856, abs=BN_TOL)
    # CCD: stated 3.05 bn in 2031 at 7.4 % over 2025-2031 -> 1.987349 in 2025
    fc = forecast("miniature_camera_modules:mcm_type_ccd", 2031)
    assert fc.years[0] == 2025
    assert fc.at(2025)[0] == pytest.approx(1.987349048, abs=BN_TOL)
    assert fc.at(2031)[0] == pytest.approx(3.05, abs=BN_TOL)


def test_forecast_bad_input_is_a_clear_error():
    with pytest.raises(UnknownNameError, match="unknown market 'nope'; valid choices: "
                                               "bsi_gs_cmos_sensor"):
        forecast("nope", 2030)
    with pytest.raises(ConfigError, match=r"--to = 2020: before the data of market "
                                          r"'miniature_camera_modules' \(first year 2024\)"):
        forecast("miniature_camera_modules", 2020)
    with pytest.raises(ConfigError, match="size but no growth rate"):
        forecast("miniature_camera_modules:us", 2030)
    assert "miniature_camera_modules" in series_names()


# --- the audit ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report():
    return audit()


def test_audit_stated_cagr_vs_values(report):
    (f,) = report.by_check("cagr_vs_values")
    assert f.severity == "inconsistent"
    # 5.7 - 5.5261801 = 0.1738199 pp
    assert f.magnitude == pytest.approx(0.1738199, abs=PP_TOL)
    assert f.magnitude_unit == "pp"
    # even allowing for rounding: (16.35 / 10.55)^(1/8) - 1 = 5.628999 % < 5.65 %
    assert f.details["implied_cagr_interval_pct"][1] == pytest.approx(5.628999, abs=PP_TOL)
    # 10.6 x 1.057^8 = 16.516034 vs 16.3 stated: +0.216034 bn
    assert f.details["end_value_difference"] == pytest.approx(0.216034, abs=1e-5)
    quotes = [c["quote"] for c in f.citations]
    assert any("exhibiting a Compound Annual Growth Rate (CAGR) of 5.7%" in q for q in quotes)
    assert any(q.startswith("The market was valued at US$ 10.6 billion") for q in quotes)


def test_audit_two_cagrs_for_bsi_gs_cmos(report):
    (f,) = [f for f in report.by_check("duplicate_quantity") if "bsi_gs_cmos" in f.summary]
    assert f.magnitude == pytest.approx(1.5, abs=1e-9)                       # 15 - 13.5 pp
    assert f.details["common_horizon"] == [2025, 2028]
    # 1.520875 / 1.462135375 - 1 = 4.0174 %
    assert f.details["growth_factor_gap_pct"] == pytest.approx(4.0174, abs=1e-3)
    quotes = " | ".join(c["quote"] for c in f.citations)
    assert "CAGR of 13.5%" in quotes and "CAGR of around 15% through 2028" in quotes


def test_audit_china_beside_asia_pacific(report):
    overlaps = [f for f in report.by_check("region_overlap") if f.severity == "inconsistent"]
    (f,) = overlaps
    assert f.details["region"] == "asia_pacific" and f.details["member"] == "china"
    assert f.magnitude == 10.0 and f.details["sum_without_member_pct"] == 90.0
    quotes = [c["quote"] for c in f.citations]
    assert any("APAC (35%)" in q and "China (10%)" in q for q in quotes)
    assert any(q.startswith("Asia-Pacific: China Japan") for q in quotes)  # the region list
    (missing,) = [f for f in report.by_check("region_overlap") if f.severity == "warning"]
    assert missing.details["missing_regions"] == ["latin_america", "middle_east_africa"]
    # the split itself adds up to 100 %, so shares_sum has nothing to say
    assert report.by_check("shares_sum") == ()


def test_audit_submarket_larger_than_the_total_of_another_report(report):
    found = {f.details["submarket_usd_bn"]: f for f in report.by_check(
        "submarket_exceeds_parent")}
    assert set(found) == {660.0, 85.0}
    # total in 2025 = 10.6 x 1.057 = 11.2042 (the higher of the two rates);
    # 660 / 11.2042 = 58.906 ; 85 / 11.2042 = 7.586
    assert found[660.0].magnitude == pytest.approx(58.906, abs=1e-3)
    assert found[85.0].magnitude == pytest.approx(7.586, abs=1e-3)
    for f in found.values():
        assert f.details["across_reports"]
        assert {c["source"] for c in f.citations} == {"001_d17f6e267cec22a9.txt",
                                                      "000_6145324f45bddb44.txt"}


def test_audit_other_findings_and_every_check_ran(report):
    assert set(report.examined) == set(CHECKS)
    periods = {f.details["report_period"][0]: f for f in report.by_check("forecast_period")}
    assert periods[2025].magnitude in (1.0, 4.0)
    (korea,) = report.by_check("region_lists")
    assert korea.details == {"name": "Korea", "regions": ["asia_pacific", "latin_america",
                                                          "middle_east_africa"]}
    (rep,) = report.by_check("repeated_figures")
    assert rep.details["figures"] == ["23 pp", "85 %"]
    assert report.by_check("company_shares") == ()
    for f in report.findings:
        assert f.citations and all("quote" in c and "source" in c for c in f.citations)
        assert math.isfinite(f.magnitude)


def test_audit_checks_can_fire_on_bad_data(data):
    """Synthetic variants of the dataset make the quiet checks fire."""
    claims = list(data.claims)
    share = data.claim("s002-share-europe")
    claims[claims.index(share)] = share.model_copy(update={"value": 45.0})
    sony = data.claim("s001-sony-cis-share")
    claims.append(sony.model_copy(update={"id": "syn-samsung", "companies": ("Samsung",),
                                          "value": 70.0}))
    top5 = data.claim("s000-top5-share-2024")
    claims.append(top5.model_copy(update={"id": "syn-lg", "companies": ("LG Innotek",),
                                          "value": 80.0, "bound": "exact"}))
    bad = data.model_copy(update={"claims": tuple(claims)})
    r = audit(bad)
    (s,) = r.by_check("shares_sum")
    assert s.magnitude == pytest.approx(20.0)            # 30 + 35 + 45 + 10 = 120 %
    kinds = {f.summary.split(":")[1].strip()[:20] for f in r.by_check("company_shares")}
    assert len(r.by_check("company_shares")) == 2, kinds  # 42 + 70 > 100; LG 80 > top-5 68


# --- command line ----------------------------------------------------------------------------

def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-W", "error", "-m", "camtwin.cli", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cli_market_commands(tmp_path):
    r = _cli("market", "audit", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    payload = json.loads(r.stdout)
    assert {c["check"] for c in payload["checks"]} == set(CHECKS)
    assert any(f["check"] == "cagr_vs_values" for f in payload["findings"])
    png = tmp_path / "f.png"
    r = _cli("market", "forecast", "--market", "miniature_camera_modules", "--to", "2030",
             "--plot", str(png), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert rows[-1]["year"] == 2030 and rows[-1]["high"] == pytest.approx(14.782768951,
                                                                          abs=BN_TOL)
    assert png.stat().st_size > 1000
    r = _cli("market", "claims", "--tag", "technology", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert all("technology" in c["tags"] for c in json.loads(r.stdout))
    r = _cli("market", "segments", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert any(s["segment"] == "mcm_type_ccd" for s in json.loads(r.stdout))


@pytest.mark.parametrize("args, message", [
    (("forecast", "--market", "nope", "--to", "2030"), "unknown market 'nope'"),
    (("forecast", "--market", "miniature_camera_modules", "--to", "2010"),
     "--to = 2010: before the data"),
    (("forecast", "--market", "miniature_camera_modules", "--to", "2030", "--plot", "x.jpg"),
     "extension must be .png"),
    (("claims", "--tag", "nonsense"), "unknown tag 'nonsense'"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, args, message):
    r = _cli("market", *args, cwd=tmp_path)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
