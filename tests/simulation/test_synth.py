"""Synthetic trials: reproducible files, internal consistency, messy variants, effect sanity."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from mscstats.schema import (DESIGN_KEYS, EX_ROUTES, KPA_TO_MMHG, OXYDEV_CODES, OXYDEV_SPELLINGS,
                             TABLE_SPECS, WHO_FROM_OXYDEV)
from mscstats.simulation.synth import (LLOQ, NULL_EFFECT, PARAM_ORDER, TABLE_ORDER, make_trial,
                                       severinghaus_spo2, write_trial)
from mscstats.simulation.designs import DESIGNS, Effect
from conftest import ROOT

COMMITTED = ROOT / "data" / "synthetic"
SEEDS = (1, 2, 3)
_TRIALS: dict = {}


def trial(key, seed=None, **kw):
    """make_trial, cached: the invariant tests share trials."""
    cache_key = (key, seed, tuple(sorted(kw.items())))
    if cache_key not in _TRIALS:
        _TRIALS[cache_key] = make_trial(key, seed=seed, **kw)
    return _TRIALS[cache_key]


def all_trials():
    return [(key, seed) for key in DESIGN_KEYS for seed in (None,) + SEEDS]


def by_day(visits: pd.DataFrame) -> pd.DataFrame:
    """One row per subject and day: AVAL of each numeric parameter, DEV the OXYDEV code."""
    wide = visits.pivot(index=["USUBJID", "ADY"], columns="PARAMCD", values="AVAL")
    device = visits[visits["PARAMCD"] == "OXYDEV"].set_index(["USUBJID", "ADY"])["AVALC"]
    return wide.assign(DEV=device)


# --------------------------------------------------------------------------
# Reproducible files
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_regenerated_files_are_byte_identical_to_committed(key, tmp_path):
    written = write_trial(key, tmp_path)
    assert [p.name for p in written] == [f"{t}.csv" for t in TABLE_ORDER]
    for path in written:
        committed = (COMMITTED / key / path.name).read_bytes()
        assert path.read_bytes() == committed, f"{key}/{path.name} differs from the committed file"
        assert b"\r" not in committed


def test_same_seed_same_trial_other_seed_other_trial(tmp_path):
    a = write_trial("refractory-hypoxia", tmp_path / "a", seed=7)
    b = write_trial("refractory-hypoxia", tmp_path / "b", seed=7)
    c = write_trial("refractory-hypoxia", tmp_path / "c", seed=8)
    for pa, pb, pc in zip(a, b, c):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.read_bytes() != pc.read_bytes()


def test_tables_subset_is_the_same_trial():
    full = trial("three-arm-paxlovid", 5)
    part = make_trial("three-arm-paxlovid", seed=5, tables=("adsl", "visits"))
    assert list(part) == ["adsl", "visits"]
    pd.testing.assert_frame_equal(part["visits"], full["visits"])
    pd.testing.assert_frame_equal(part["adsl"], full["adsl"])


def test_written_csv_reads_back_as_the_tables(tmp_path):
    write_trial("nebulized-exosomes", tmp_path, seed=4)
    tables = make_trial("nebulized-exosomes", seed=4)
    for name in TABLE_ORDER:
        back = pd.read_csv(tmp_path / f"{name}.csv", keep_default_na=False, na_values=[""],
                           dtype={"ATM": str, "AESTTM": str, "EXSTTM": str})
        original = tables[name].mask(tables[name] == "")
        pd.testing.assert_frame_equal(back, original, check_dtype=False)


# --------------------------------------------------------------------------
# The input format (DESIGN.md section 2)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key,seed", all_trials())
def test_columns_and_codes_follow_the_input_format(key, seed):
    t = trial(key, seed)
    for name, frame in t.items():
        spec = TABLE_SPECS[name]
        assert set(spec.required) <= set(frame.columns)
        extra = set(frame.columns) - set(spec.required) - set(spec.optional)
        assert extra <= {"EXTRT"}, f"{name}: unexpected columns {extra}"
    v = t["visits"]
    assert list(v.columns) == ["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC", "AVALU",
                               "LLOQ"]
    assert set(v["PARAMCD"]) <= set(PARAM_ORDER)
    assert set(v.loc[v["PARAMCD"] == "OXYDEV", "AVALC"]) <= set(OXYDEV_CODES)
    assert (v["AVALU"] == "").all()
    times = pd.concat([v["ATM"], t["adae"]["AESTTM"], t["ex"]["EXSTTM"]])
    assert times.str.fullmatch(r"(|[01]\d:[0-5]\d|2[0-3]:[0-5]\d)").all()
    assert set(t["ex"]["EXROUTE"]) <= set(EX_ROUTES)
    assert t["adsl"]["USUBJID"].is_unique
    assert t["adsl"]["USUBJID"].str.fullmatch(DESIGNS[key].prefix + r"-\d{3}").all()
    assert set(t["adsl"]["ARM"]) <= set(DESIGNS[key].arms)
    assert (t["adsl"]["ITTFL"] == "Y").all()


@pytest.mark.parametrize("key,seed", all_trials())
def test_one_record_per_subject_day_parameter_and_no_day_zero(key, seed):
    t = trial(key, seed)
    v = t["visits"]
    assert not v.duplicated(["USUBJID", "ADY", "PARAMCD"]).any()
    # one morning assessment a day: every parameter of a day shares its clock time
    assert (v.groupby(["USUBJID", "ADY"])["ATM"].nunique() == 1).all()
    for frame, column in ((v, "ADY"), (t["adae"], "AESTDY"), (t["ex"], "EXSTDY"),
                          (t["adsl"], "DTHDY"), (t["adsl"], "DSCHDY"), (t["adsl"], "LSTALVDY")):
        assert not (frame[column] == 0).any(), column
    assert v["ADY"].between(-1, 28).all()


@pytest.mark.parametrize("key,seed", all_trials())
def test_visits_stop_at_death_discharge_and_last_contact(key, seed):
    t = trial(key, seed)
    adsl = t["adsl"].set_index("USUBJID")
    v = t["visits"]
    assert set(v["USUBJID"]) <= set(adsl.index)
    last = v.groupby("USUBJID")["ADY"].max()
    subjects = adsl.loc[last.index]
    assert (last <= subjects["LSTALVDY"]).all()
    assert (last < subjects["DTHDY"].fillna(np.inf)).all()
    assert (last <= subjects["DSCHDY"].fillna(np.inf)).all()
    # LSTALVDY: 28 when followed, the day before death, or the last contact if lost
    dead = adsl["DTHDY"].notna()
    assert (adsl.loc[dead, "LSTALVDY"] == adsl.loc[dead, "DTHDY"] - 1).all()
    assert not (dead & adsl["DSCHDY"].notna()).any()
    assert adsl["LSTALVDY"].between(1, 28).all()
    assert (adsl["DSCHDY"].fillna(0) <= adsl["LSTALVDY"]).all()
    # everyone has a baseline assessment on day 1
    assert set(v.loc[v["ADY"] == 1, "USUBJID"]) == set(adsl.index)


@pytest.mark.parametrize("key,seed", all_trials())
def test_oxygen_support_fio2_and_who_scale_agree(key, seed):
    d = by_day(trial(key, seed)["visits"])
    assert d["FIO2"].dropna().between(0.21, 1.0).all()
    ranges = {"RA": (0.21, 0.21), "NC": (0.25, 0.45), "MASK": (0.40, 0.60),
              "HFNC": (0.40, 1.0), "NIV": (0.40, 1.0), "IMV": (0.40, 1.0), "ECMO": (0.40, 1.0)}
    for device, (lo, hi) in ranges.items():
        assert d.loc[d["DEV"] == device, "FIO2"].dropna().between(lo, hi).all(), device
    nc = d[(d["DEV"] == "NC") & d["FIO2"].notna()]
    assert np.allclose(nc["FIO2"], 0.21 + 0.04 * nc["O2FLOW"])      # the usual estimate
    assert d.loc[d["DEV"].isin(["RA", "NIV", "IMV", "ECMO"]), "O2FLOW"].isna().all()
    assert d.loc[d["DEV"] == "HFNC", "O2FLOW"].between(30, 60).all()
    expected = d["DEV"].map(WHO_FROM_OXYDEV)
    ventilated = d["DEV"] == "IMV"
    assert (d.loc[~ventilated, "WHOCPS"] == expected[~ventilated]).all()
    assert d.loc[ventilated, "WHOCPS"].isin([7, 8]).all()


@pytest.mark.parametrize("key,seed", all_trials())
def test_gas_exchange_is_physiological(key, seed):
    d = by_day(trial(key, seed)["visits"])
    assert d["SPO2"].dropna().between(50, 100).all()
    assert d["RR"].dropna().between(8, 50).all()
    abg = d.dropna(subset=["PAO2", "FIO2", "SPO2"])
    # SpO2 measured beside the blood gas sits near the dissociation curve at that PaO2
    gap = abg["SPO2"] - severinghaus_spo2(abg["PAO2"].to_numpy())
    assert gap.abs().median() < 1.5 and gap.abs().max() < 8
    pf = abg["PAO2"] / abg["FIO2"]
    assert pf.between(40, 650).all()
    worse = pf < 150
    if worse.any() and (~worse).any():
        assert abg.loc[worse, "RR"].mean() > abg.loc[~worse, "RR"].mean()


def test_baseline_matches_each_design():
    base = {key: by_day(trial(key)["visits"]).xs(1, level="ADY") for key in DESIGN_KEYS}
    pp = base["prevent-progression"]
    assert (pp["DEV"] == "RA").all() and (pp["SPO2"] > 93).all() and (pp["RR"] < 30).all()
    rh = base["refractory-hypoxia"]
    assert rh["DEV"].isin(["HFNC", "NIV", "IMV"]).all()
    rh_pf = rh["PAO2"] / rh["FIO2"]
    assert rh_pf.between(60, 240).all() and rh_pf.between(80, 200).mean() > 0.8
    ta = base["three-arm-paxlovid"]
    assert (ta["DEV"] != "RA").all()          # severe or critical: all on oxygen at entry
    ne = base["nebulized-exosomes"]
    ne_pf = ne["PAO2"] / ne["FIO2"]
    severe = (ne_pf <= 300) | (ne["SPO2"] <= 93) | (ne["RR"] >= 30)
    assert 0.3 < severe.mean() < 0.95
    il6 = {key: b["IL6"].median() for key, b in base.items()}
    assert il6["prevent-progression"] < 20 and 25 < il6["refractory-hypoxia"] < 120


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_subject_characteristics(key):
    design = DESIGNS[key]
    adsl = pd.concat([trial(key, seed)["adsl"] for seed in (None,) + SEEDS])
    assert adsl["AGE"].between(design.age[0], design.age[1]).all()
    assert adsl["BMI"].between(*design.bmi).all()
    assert set(adsl["SEX"]) == {"M", "F"}
    assert adsl["STRATUM"].nunique() == 2


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_arm_sizes_follow_the_allocation(key):
    design = DESIGNS[key]
    counts = trial(key)["adsl"]["ARM"].value_counts()
    expected = design.n * np.array(design.allocation) / sum(design.allocation)
    assert [counts.get(a, 0) for a in design.arms] == list(expected)
    odd = make_trial(key, n=design.n + 1, seed=3)["adsl"]["ARM"].value_counts()
    assert odd.sum() == design.n + 1 and odd.max() - odd.min() <= 1


# --------------------------------------------------------------------------
# Doses and adverse events
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key,seed", all_trials())
def test_doses_follow_the_schedule(key, seed):
    design = DESIGNS[key]
    t = trial(key, seed)
    adsl = t["adsl"].set_index("USUBJID")
    ex = t["ex"].join(adsl["ARM"], on="USUBJID")
    for arm, doses in ex.groupby("ARM"):
        dosing = design.dosing[arm]
        planned_day = np.array(dosing.days)[doses["EXDOSNO"] - 1]
        assert (doses["EXSTDY"].to_numpy() == planned_day).all()
        assert (doses["EXROUTE"] == dosing.route).all() and (doses["EXDOSU"] == dosing.unit).all()
        assert (doses.groupby("USUBJID")["EXDOSNO"].min() == 1).all()
        assert not doses.duplicated(["USUBJID", "EXDOSNO"]).any()
        hours = doses["EXSTTM"].str.slice(0, 2).astype(int) + \
            doses["EXSTTM"].str.slice(3, 5).astype(int) / 60
        assert (abs(hours - np.array(dosing.clock)[doses["EXDOSNO"] - 1]) <= 1).all()
    # no study drug in the arms that have none; every dose given on a day in the study
    assert set(ex["ARM"]) <= set(design.dosing)
    assert (ex["EXSTDY"] <= adsl.loc[ex["USUBJID"], "LSTALVDY"].to_numpy()).all()
    dosed = adsl.index.isin(ex["USUBJID"])
    no_drug = ~adsl["ARM"].isin(list(design.dosing))
    assert ((adsl["SAFFL"] == "Y") == (dosed | no_drug)).all()


def test_the_morning_assessment_comes_before_the_first_dose():
    for key in DESIGN_KEYS:
        t = trial(key)
        if not DESIGNS[key].clock_times:
            continue
        v = t["visits"][t["visits"]["ADY"] == 1].groupby("USUBJID")["ATM"].first()
        first = t["ex"][t["ex"]["EXDOSNO"] == 1].set_index("USUBJID")["EXSTTM"]
        assert (v.loc[first.index] < first).all()


@pytest.mark.parametrize("key,seed", all_trials())
def test_adverse_events_are_coded_and_fit_the_course(key, seed):
    t = trial(key, seed)
    adsl = t["adsl"].set_index("USUBJID")
    ae = t["adae"].join(adsl, on="USUBJID")
    assert ae["AETOXGR"].between(1, 5).all()
    assert ae["AESER"].isin(["Y", "N"]).all() and ae["AEREL"].isin(["Y", "N"]).all()
    assert ae["AEBODSYS"].str.len().gt(5).all() and ae["AEDECOD"].str.len().gt(3).all()
    assert (ae["AESTDY"] >= 1).all()
    assert (ae["AESTDY"] <= ae["DTHDY"].fillna(ae["LSTALVDY"])).all()
    assert (ae.loc[ae["AETOXGR"] >= 4, "AESER"] == "Y").all()
    fatal = ae[ae["AETOXGR"] == 5]
    assert (fatal["AEOUT"] == "FATAL").all()
    # one fatal event for each death, none for the living
    assert sorted(fatal["USUBJID"]) == sorted(adsl.index[adsl["DTHDY"].notna()])
    # only those given study drug have events judged related to it
    related = ae.loc[ae["AEREL"] == "Y", "USUBJID"]
    assert related.isin(t["ex"]["USUBJID"]).all()


def test_infusion_reactions_follow_cell_infusions_within_hours():
    n_reactions = 0
    for seed in (None,) + SEEDS:
        t = trial("refractory-hypoxia", seed)
        reactions = t["adae"][t["adae"]["AEDECOD"].isin(["Infusion related reaction", "Chills"])]
        paired = reactions.merge(t["ex"], left_on=["USUBJID", "AESTDY"],
                                 right_on=["USUBJID", "EXSTDY"])
        minutes = (pd.to_timedelta(paired["AESTTM"] + ":00")
                   - pd.to_timedelta(paired["EXSTTM"] + ":00")).dt.total_seconds() / 60
        assert len(paired) == len(reactions) and minutes.between(15, 360).all()
        assert (reactions["AEREL"] == "Y").all()
        n_reactions += len(reactions)
    assert n_reactions > 0


def test_cell_therapy_arms_have_more_related_events():
    related = {"control": 0, "UC-MSC": 0}
    for seed in range(20):
        t = make_trial("refractory-hypoxia", seed=seed, tables=("adsl", "adae"))
        ae = t["adae"].merge(t["adsl"][["USUBJID", "ARM"]])
        for arm, n in ae[ae["AEREL"] == "Y"].groupby("ARM").size().items():
            related[arm] += n
    assert related["UC-MSC"] > 3 * max(related["control"], 1)


def test_nebulization_brings_cough_in_both_arms():
    events = pd.concat([make_trial("nebulized-exosomes", seed=s, tables=("adsl", "adae"))["adae"]
                        for s in range(10)])
    assert (events["AEDECOD"] == "Cough").sum() > 5


# --------------------------------------------------------------------------
# Cytokines
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key,seed", all_trials())
def test_cytokines_and_lloq(key, seed):
    v = trial(key, seed)["visits"]
    cyto = v[v["PARAMCD"].isin(list(LLOQ))]
    assert set(cyto["ADY"]) <= set(DESIGNS[key].cytokine_days)
    assert (cyto["LLOQ"] == cyto["PARAMCD"].map(LLOQ)).all()
    below = cyto["AVALC"] != ""
    assert cyto.loc[below, "AVAL"].isna().all()
    expected = ["<" + format(limit, "g") for limit in cyto.loc[below, "LLOQ"]]
    assert (cyto.loc[below, "AVALC"] == expected).all()
    assert (cyto.loc[~below, "AVAL"] >= cyto.loc[~below, "LLOQ"]).all()
    assert v.loc[~v["PARAMCD"].isin(list(LLOQ)), "LLOQ"].isna().all()


def test_some_cytokine_results_are_below_the_lloq():
    v = pd.concat([trial(k)["visits"] for k in DESIGN_KEYS])
    below = v[v["AVALC"].str.startswith("<")]
    assert set(below["PARAMCD"]) == {"IL6", "TNFA"}


# --------------------------------------------------------------------------
# Messy variants: still valid, and the same numbers once converted back
# --------------------------------------------------------------------------

def _normal_spelling(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _clean_again(messy: pd.DataFrame) -> pd.DataFrame:
    """Undo the messy long format the way a loader must: units, spellings, duplicates."""
    v = messy.copy()
    factor = v["AVALU"].map({"kPa": KPA_TO_MMHG, "%": 0.01, "ng/L": 1.0, "": 1.0})
    assert factor.notna().all()
    v["AVAL"] = v["AVAL"] * factor
    v["AVALU"] = ""
    dev = v["PARAMCD"] == "OXYDEV"
    v.loc[dev, "AVALC"] = v.loc[dev, "AVALC"].map(lambda s: OXYDEV_SPELLINGS[_normal_spelling(s)])
    return v.drop_duplicates().drop_duplicates(["USUBJID", "ADY", "PARAMCD"], keep="first")


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_messy_long_converts_back_to_the_clean_trial(key):
    clean = trial(key, 11)["visits"]
    messy = trial(key, 11, messy=True)["visits"]
    units = set(messy["AVALU"])
    assert {"kPa", "%"} & units if key != "prevent-progression" else "%" in units
    assert messy.duplicated(["USUBJID", "ADY", "PARAMCD"]).any()
    assert (~messy.loc[messy["PARAMCD"] == "OXYDEV", "AVALC"].isin(OXYDEV_CODES)).any()
    back = _clean_again(messy).reset_index(drop=True)
    assert len(back) == len(clean)
    pd.testing.assert_frame_equal(back.drop(columns="AVAL"), clean.drop(columns="AVAL"))
    assert np.allclose(back["AVAL"], clean["AVAL"], atol=0.04, equal_nan=True)
    fio2 = messy.loc[messy["PARAMCD"] == "FIO2"]
    pct = fio2["AVALU"] == "%"
    assert fio2.loc[pct, "AVAL"].between(21, 100).all()
    assert fio2.loc[~pct, "AVAL"].between(0.21, 1.0).all()
    pao2 = messy.loc[messy["PARAMCD"] == "PAO2"]
    assert pao2.loc[pao2["AVALU"] == "kPa", "AVAL"].between(3, 80).all()


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_messy_wide_melts_back_to_the_clean_trial(key, tmp_path):
    clean = trial(key, 12)["visits"]
    write_trial(key, tmp_path, seed=12, messy="wide")
    wide = pd.read_csv(tmp_path / "visits.csv", dtype=str, keep_default_na=False)
    assert list(wide.columns[:3]) == ["USUBJID", "ADY", "ATM"]
    assert set(wide.columns[3:]) <= set(PARAM_ORDER)
    assert wide.duplicated().any()
    long = wide.drop_duplicates().melt(id_vars=["USUBJID", "ADY", "ATM"], var_name="PARAMCD",
                                       value_name="VALUE")
    long = long[long["VALUE"] != ""]
    assert len(long) == len(clean)
    merged = clean.assign(ADY=clean["ADY"].astype(str)).merge(
        long, on=["USUBJID", "ADY", "ATM", "PARAMCD"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    numeric = merged["AVAL"].notna()
    assert np.allclose(merged.loc[numeric, "VALUE"].astype(float), merged.loc[numeric, "AVAL"])
    text = merged.loc[~numeric]
    dev = text["PARAMCD"] == "OXYDEV"
    assert (text.loc[dev, "VALUE"].map(lambda s: OXYDEV_SPELLINGS[_normal_spelling(s)])
            == text.loc[dev, "AVALC"]).all()
    assert (text.loc[~dev, "VALUE"] == text.loc[~dev, "AVALC"]).all()


def test_messy_keeps_the_clean_trial_and_lowers_ex_headers():
    clean, messy = trial("three-arm-paxlovid", 2), trial("three-arm-paxlovid", 2, messy=True)
    pd.testing.assert_frame_equal(clean["adsl"], messy["adsl"])
    pd.testing.assert_frame_equal(clean["adae"], messy["adae"])
    assert list(messy["ex"].columns) == [c.lower() for c in clean["ex"].columns]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown design"):
        make_trial("no-such-design")
    with pytest.raises(ValueError, match="not in"):
        make_trial("refractory-hypoxia", effect={"placebo": NULL_EFFECT})
    with pytest.raises(ValueError, match="positive"):
        Effect(recovery_rate=0.0)
    with pytest.raises(ValueError, match="messy"):
        make_trial("refractory-hypoxia", messy="tall")
    with pytest.raises(ValueError, match="at least 1"):
        make_trial("refractory-hypoxia", n=0)


def test_tiny_and_negative_seeded_trials_work():
    t = make_trial("three-arm-paxlovid", n=1, seed=-5)
    assert len(t["adsl"]) == 1 and len(t["visits"]) > 0


def test_cli_synth_writes_the_trial(tmp_path):
    from click.testing import CliRunner

    from mscstats.cli import main
    result = CliRunner().invoke(main, ["synth", "single-arm-bm-msc", "--seed", "3", "--n", "6",
                                       "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "adsl.csv").shape[0] == 6
    messy = CliRunner().invoke(main, ["synth", "refractory-hypoxia", "--messy", "-o",
                                      str(tmp_path / "messy")])
    assert messy.exit_code == 0, messy.output
    units = pd.read_csv(tmp_path / "messy" / "visits.csv", keep_default_na=False)["AVALU"]
    assert {"kPa", "%"} <= set(units)


# --------------------------------------------------------------------------
# Treatment effect: visible with the default, absent with the null effect
# --------------------------------------------------------------------------

def arm_outcomes(t) -> pd.DataFrame:
    """Per arm: mean P/F on day 7, mean WHO scale on day 7 (dead 10, discharged 2),
    28-day deaths, discharges and the share ever needing oxygen."""
    adsl = t["adsl"].set_index("USUBJID")
    v = t["visits"]
    d7 = v[v["ADY"] == 7].pivot(index="USUBJID", columns="PARAMCD", values="AVAL")
    fio2 = d7.get("FIO2", pd.Series(dtype=float)).reindex(d7.index).fillna(0.21)
    pf7 = (d7.get("PAO2", pd.Series(dtype=float)).reindex(d7.index) / fio2).reindex(adsl.index)
    who7 = d7["WHOCPS"].reindex(adsl.index)
    who7 = who7.mask(adsl["DSCHDY"] <= 7, 2.0).mask(adsl["DTHDY"] <= 7, 10.0)
    oxygen = v[(v["PARAMCD"] == "OXYDEV") & (v["AVALC"] != "RA")]["USUBJID"].unique()
    frame = pd.DataFrame({"ARM": adsl["ARM"], "pf7": pf7, "who7": who7,
                          "dead": adsl["DTHDY"].notna(), "home": adsl["DSCHDY"].notna(),
                          "oxygen": adsl.index.isin(oxygen)})
    return frame.groupby("ARM").mean()


def across_seeds(key, effect, seeds, treated, reference):
    """Treated minus reference arm mean of each outcome, one row per seed."""
    rows = []
    for seed in seeds:
        means = arm_outcomes(make_trial(key, seed=seed, effect=effect,
                                        tables=("adsl", "visits")))
        rows.append(means.loc[treated] - means.loc[reference])
    return pd.DataFrame(rows)


def t_statistic(diff: pd.Series) -> float:
    diff = diff.dropna()
    return diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))


@pytest.mark.parametrize("key,treated,reference", [
    ("refractory-hypoxia", "UC-MSC", "control"),
    ("three-arm-paxlovid", "UC-MSC", "standard"),
    ("nebulized-exosomes", "exosome", "sham"),
    ("prevent-progression", "UC-MSC", "placebo"),
])
def test_default_effect_shows_a_benefit_and_null_effect_none(key, treated, reference):
    seeds = range(200)
    benefit = across_seeds(key, None, seeds[:100], treated, reference)
    null = across_seeds(key, NULL_EFFECT, seeds, treated, reference)
    # default: fewer need oxygen / lower WHO scale on day 7, more go home
    assert t_statistic(benefit["who7"]) < -3
    assert benefit["home"].mean() > 0
    if key in ("refractory-hypoxia", "three-arm-paxlovid"):
        assert t_statistic(benefit["pf7"]) > 4
        assert benefit["dead"].mean() < 0
    if key == "prevent-progression":
        assert t_statistic(benefit["oxygen"]) < -3
    # null: no systematic difference in any outcome
    for outcome in ("who7", "pf7", "dead", "home", "oxygen"):
        if null[outcome].notna().sum() > 20 and null[outcome].std() > 0:
            assert abs(t_statistic(null[outcome])) < 3.5, outcome


def test_single_arm_effect_against_its_natural_course():
    seeds = range(100)
    with_effect = pd.concat([arm_outcomes(make_trial("single-arm-bm-msc", seed=s,
                                                     tables=("adsl", "visits")))
                             for s in seeds])
    natural = pd.concat([arm_outcomes(make_trial("single-arm-bm-msc", seed=s,
                                                 effect=NULL_EFFECT, tables=("adsl", "visits")))
                         for s in seeds])
    assert t_statistic(with_effect["who7"].reset_index(drop=True)
                       - natural["who7"].reset_index(drop=True)) < -3


def test_cytokines_fall_faster_with_msc():
    ratio = []
    for seed in range(30):
        t = make_trial("refractory-hypoxia", seed=seed, tables=("adsl", "visits"))
        v = t["visits"].merge(t["adsl"][["USUBJID", "ARM"]])
        il6 = v[(v["PARAMCD"] == "IL6") & (v["ADY"] == 7)]
        gm = np.exp(np.log(il6["AVAL"].fillna(0.75)).groupby(il6["ARM"]).mean())
        ratio.append(gm["UC-MSC"] / gm["control"])
    assert np.exp(np.mean(np.log(ratio))) < 0.8


def test_fast_enough():
    make_trial("refractory-hypoxia", seed=0)
    start = time.perf_counter()
    for seed in range(50):
        make_trial("refractory-hypoxia", seed=seed)
    per_trial = (time.perf_counter() - start) / 50
    # about 7 ms on the development machine; generous for slow CI runners
    assert per_trial < 0.05
