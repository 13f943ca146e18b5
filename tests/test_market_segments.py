"""Catalog parts placed in the seed reports' segments (camtwin.market.segments)."""

from __future__ import annotations

import pytest

from camtwin.catalog import APPLICATIONS, load_catalog
from camtwin.market.data import load_market_data
from camtwin.market.segments import segment_table, unplaced_vendors


@pytest.fixture(scope="module")
def rows():
    return {r.segment.id: r for r in segment_table()}


def test_every_catalog_vendor_has_a_region():
    assert unplaced_vendors() == ()


def test_application_segments_partition_the_catalog_tags():
    """Within one report, every catalog application tag maps to exactly one segment."""
    data = load_market_data()
    for market in {s.market for s in data.segments if s.dimension == "application"}:
        tags = [t for s in data.segments if s.market == market and s.dimension == "application"
                for t in s.catalog["applications"]]
        assert sorted(tags) == sorted(APPLICATIONS), market


def test_type_segments_follow_the_shutter_figure(rows):
    cat = load_catalog()
    ccd = {n for n, s in cat.sensors.items() if s.value("shutter") == "ccd"}
    assert set(rows["mcm_type_ccd"].sensors) == ccd and ccd
    assert set(rows["mcm_type_cmos"].sensors) == set(cat.sensors) - ccd
    stated = {s["claim"] for s in rows["mcm_type_ccd"].stated}
    assert stated == {"s000-ccd-2031", "s000-ccd-cagr"}


def test_resolution_segments_hold_only_bsi_global_shutter_sensors(rows):
    cat = load_catalog()
    placed = set()
    for sid, lo, hi in (("bsi_res_lt2", 0.0, 2.0), ("bsi_res_2to5", 2.0, 5.0),
                        ("bsi_res_gt5", 5.0, 1e9)):
        for name in rows[sid].sensors:
            s = cat.sensors[name]
            mp = s.value("width_px") * s.value("height_px") / 1e6   # independent of the tags
            assert s.value("shutter") == "global" and s.value("illumination") == "bsi"
            assert (lo <= mp < hi) if sid == "bsi_res_lt2" else (lo <= mp <= hi
                                                                 if sid == "bsi_res_2to5"
                                                                 else mp > lo), (name, mp)
            placed.add(name)
    expected = {n for n, s in cat.sensors.items()
                if s.value("shutter") == "global" and s.value("illumination") == "bsi"}
    assert placed == expected and expected


def test_known_parts_land_where_expected(rows):
    assert "sony-imx586" in rows["mcm_app_mobile"].sensors
    assert "phone-imx586-main" in rows["mcm_app_mobile"].modules
    assert "sony-imx586" in rows["cm_region_asia"].sensors
    assert "sony-imx586" not in rows["bsi_res_gt5"].sensors          # rolling shutter
    assert "smartsens-sc132gs" in rows["mcm_region_china"].sensors
    assert "st-vd56g3" in rows["bsi_region_europe"].sensors
    # the region segments carry the stated figures of their region
    assert [s["value"] for s in rows["cm_region_asia"].stated] == ["US$ 660 bn", "9.7 %"]
    assert [s["value"] for s in rows["bsi_region_apac"].stated] == ["35 %"]
