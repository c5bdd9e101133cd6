# %% [markdown]
# # Quickstart: from a trial directory to results and figures
#
# This notebook analyses the synthetic 60-subject **refractory-hypoxia** trial
# (UC-MSC vs control, NCT05689008 design) with its template statistical analysis
# plan (SAP): load and validate the data, read the SAP, run every analysis, and
# draw the figures the PDF report shows.
#
# The trial lives in `data/synthetic/refractory-hypoxia/` of the repository
# (`mscstats synth refractory-hypoxia -o DIR` writes the same files). For your own
# trial, point `mscstats.load` at a directory of `adsl.csv` and `visits.csv` (and
# optionally `adae.csv`, `ex.csv`) in the format of
# [docs/data.md](../docs/data.md).

# %%
%matplotlib inline
from pathlib import Path

import pandas as pd

import mscstats
from mscstats.summaries import descriptive
from mscstats.report import figures
from mscstats import plan
from mscstats.derive.daily import daily_values
from mscstats.results import comparisons_of

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)
TRIAL = Path("../data/synthetic/refractory-hypoxia")
sorted(p.name for p in TRIAL.iterdir())

# %% [markdown]
# ## The analysis plan
#
# `mscstats sap refractory-hypoxia > sap.toml` writes the template SAP to edit;
# `plan.template(KEY)` gives the same plan parsed. For a file of your own use
# `mscstats.read_sap("sap.toml")`: it checks every key before any data is read.

# %%
print(plan.template_text("refractory-hypoxia")[:1200])

# %%
sap = plan.template("refractory-hypoxia")
print("study:", sap.study.id, "| arms:", sap.study.arms, "| alpha:", sap.study.alpha,
      "| seed:", sap.study.seed)
pd.DataFrame([(a.id, a.endpoint, a.method) for a in sap.analyses],
             columns=["analysis", "endpoint", "method"])

# %% [markdown]
# Reading the same plan back from a TOML file with `mscstats.read_sap` gives an
# identical plan (the SHA-256 of its text is recorded in every result):

# %%
import tempfile

with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "sap.toml"
    path.write_text(plan.template_text("refractory-hypoxia"))
    from_file = mscstats.read_sap(path)
print(from_file.sha256 == sap.sha256, [a.id for a in from_file.analyses] == [a.id for a in sap.analyses])

# %% [markdown]
# ## Load and validate the data
#
# `mscstats.load` reads every table, converts units, applies the SAP's daily rule
# and accounts for every row: used, converted (and how) or dropped (and why).
# Errors stop here with the file, row, column and fix; warnings are logged.
# `validate.summary` is what `mscstats validate DIR` prints.

# %%
from mscstats.trial.validate import summary

trial = mscstats.load(TRIAL, sap=sap)
print(summary(trial))

# %%
quality = trial.quality.to_dict()
pd.DataFrame(quality["warnings"])[["file", "column", "message", "n"]]

# %%
trial.adsl.groupby("ARM")[["AGE", "BMI"]].agg(["count", "mean"]).round(1)

# %% [markdown]
# ## Derived endpoints
#
# `mscstats.endpoints` gives `endpoints.csv` as a DataFrame: one row per subject and
# endpoint (per day for repeated endpoints), with AVAL, BASE, CHG, CNSR and
# EVNTCD as [docs/derivation.md](../docs/derivation.md) defines them.

# %%
endpoints = mscstats.endpoints(trial, sap)
endpoints[endpoints["ENDPOINT"] == "ttci"].head()

# %%
endpoints.groupby("ENDPOINT").size().rename("rows").to_frame().T

# %% [markdown]
# ## Run every analysis
#
# `mscstats.analyze` runs the SAP's analyses and the multiplicity adjustment
# (Holm over `primary` and `ttci_logrank`). One result prints as a summary and
# renders as a table.

# %%
results = mscstats.analyze(trial, sap)
print(results["primary"])

# %%
results["ttci_logrank"]

# %% [markdown]
# Every comparison as one DataFrame (`.to_frame()`); `results.to_json()` is the
# `results.json` that `mscstats analyze` writes.

# %%
frame = results.to_frame()
frame[["analysis", "method", "arm", "estimand", "estimate", "ci_lower", "ci_upper",
       "p_value", "p_adjusted"]].round(4)

# %% [markdown]
# The report's endpoint table formats the same numbers (`mscstats.report.tables`, the
# only place that rounds):

# %%
from mscstats.report import tables

labels = {e.id: e.label or e.id for e in sap.endpoints}
tables.endpoint_table(results, labels).to_frame().head(8)

# %% [markdown]
# ## Figures
#
# Every `figures.plot_*` function draws results or descriptive summaries on a
# Matplotlib Axes and returns it; it computes nothing itself.
#
# **Time to clinical improvement** (WHO scale down by 2 or more, or discharge;
# death censored at day 28): Kaplan-Meier curves from the `ttci_logrank` result,
# with 95% bands, censoring marks and the number at risk.

# %%
ax = figures.plot_survival(results["ttci_logrank"].curves)
ax.set_title("Time to clinical improvement")
ax.figure

# %% [markdown]
# **PaO2/FiO2 over days**: mean and 95% CI by arm, each subject's course faintly
# behind.

# %%
daily = daily_values(trial, sap.data.daily, sap.data.fio2_from_flow)
subjects = trial.population(sap.study.population)
pf = descriptive.daily_summary(daily, subjects, "PF", sap.study.arms)
ax = figures.plot_over_days(pf, descriptive.param_label("PF"),
                            individual=descriptive.trajectories(daily, subjects, "PF"))
ax.figure

# %%
pf[pf["DAY"].isin([1, 7, 14])].round(1)

# %% [markdown]
# **Forest plot** of the ratio estimands (hazard ratios, odds ratios, geometric
# mean ratios) with 95% CIs; ratios above 1 mean more events or higher values in
# the UC-MSC arm (for time to clinical improvement, a hazard ratio above 1 means
# faster improvement).

# %%
ratios = [(a, c) for a, c in comparisons_of(results.analyses)
          if c.reference and tables.is_ratio(c.estimand)]
ax = figures.plot_forest(ratios)
ax.figure

# %% [markdown]
# ## From a sponsor's ADaM export
#
# A sponsor's export names and times things its own way: `TRT01P` for the arm,
# `SITEID` as text, `RANDDT` and dates (`DTHDT`, `DSCHDT`, `LSTALVDT`) instead of
# study days, efficacy records in BDS tables (`adlb`, `advs` ...) timed by `ADT`
# and `ATM`, its own parameter codes. The loader takes it as it is
# ([docs/data.md](../docs/data.md#from-your-adam-export)). Below, the same trial
# rewritten that way: adsl as SAS transport with SAS dates, the records as a
# Parquet BDS table `adlb` with dates and PaO2 coded `PO2`, mapped back with
# `[data.params]` in the SAP.

# %%
import datetime as dt

import numpy as np
import pyreadstat

export = Path(tempfile.mkdtemp()) / "export"
export.mkdir()
adsl = pd.read_csv(TRIAL / "adsl.csv", dtype=str, keep_default_na=False)
randdt = {s: dt.date(2024, 3, 1) + dt.timedelta(days=k % 40) for k, s in enumerate(adsl["USUBJID"])}


def as_date(days, subjects):
    """The calendar date of a study day (day 1 = RANDDT, no day 0)."""
    return [None if d == "" else randdt[s] + dt.timedelta(days=int(d) - (int(d) > 0))
            for d, s in zip(days, subjects)]


pyreadstat.write_xport(pd.DataFrame({
    "USUBJID": adsl["USUBJID"], "TRT01P": adsl["ARM"], "SITEID": np.where(np.arange(len(adsl)) % 2, "02", "01"),
    "AGE": adsl["AGE"].astype(float), "SEX": adsl["SEX"], "BMI": adsl["BMI"].astype(float),
    "STRATUM": adsl["STRATUM"], "RANDDT": list(adsl["USUBJID"].map(randdt)),
    "DTHFL": np.where(adsl["DTHDY"] != "", "Y", ""),
    **{f"{what}DT": as_date(adsl[f"{what}DY"], adsl["USUBJID"]) for what in ("DTH", "DSCH", "LSTALV")}}),
    str(export / "adsl.xpt"), table_name="ADSL")
visits = pd.read_csv(TRIAL / "visits.csv", dtype=str, keep_default_na=False)
visits.assign(ADT=as_date(visits["ADY"], visits["USUBJID"]), PARAMCD=visits["PARAMCD"].replace({"PAO2": "PO2"}),
              AVAL=pd.to_numeric(visits["AVAL"]), LLOQ=pd.to_numeric(visits["LLOQ"]),
              ).drop(columns="ADY").to_parquet(export / "adlb.parquet")
for name in ("adae", "ex"):
    (export / f"{name}.csv").write_bytes((TRIAL / f"{name}.csv").read_bytes())
sap_text = plan.template_text("refractory-hypoxia") + '\n[data.params]\nPAO2 = "PO2"\n'
(export.parent / "sap.toml").write_text(sap_text)
sorted(p.name for p in export.iterdir())

# %%
export_sap = mscstats.read_sap(export.parent / "sap.toml")
export_trial = mscstats.load(export, export_sap)
log = export_trial.quality.to_dict()
pd.DataFrame(log["converted"])[["file", "column", "rule", "n"]]

# %% [markdown]
# Columns nothing reads are listed, not dropped silently (the report's appendix
# and `results.json` carry the same list); the analyses equal those of the trial
# in mscstats's own layout:

# %%
print(log["not_used"], log["files_not_read"])
export_results = mscstats.analyze(export_trial, export_sap)
print(export_results["primary"].comparisons[0].estimate == results["primary"].comparisons[0].estimate)

# %% [markdown]
# ## The PDF report
#
# `mscstats report ../data/synthetic/refractory-hypoxia --sap sap.toml -o report.pdf`
# lays all of this out in one reproducible PDF ([docs/report.md](../docs/report.md)).
# The next notebooks look closer at the competing-risks analysis
# (02), safety (03) and planning a trial by simulation (04).
