# %% [markdown]
# # Time to clinical improvement, with death as a competing event
#
# In a trial of critically ill patients some die before they improve. How the
# SAP treats those deaths decides what "time to clinical improvement" estimates
# ([docs/derivation.md](../docs/derivation.md), `death =` of a time-to-event
# endpoint):
#
# | `death =` | a death before improvement becomes | what it estimates |
# |---|---|---|
# | `censor_at_horizon` | censored at the horizon H (AVAL = H, CNSR = 1): the dead never improve and stay in the risk set | 1 - KM is the probability of improving by day t, the dead counted as not improved; log-rank, Cox HR, RMST apply |
# | `competing` | a competing event at the death day (AVAL = DTHDY, EVNTCD = 2) | the cumulative incidence of improvement (Aalen-Johansen), Gray's test, Fine-Gray subdistribution HR |
# | `event` | the event itself at DTHDY | a composite (e.g. progression or death) |
# | `censor` | censored at DTHDY | the cause-specific hazard: treats the dead as if they could still improve; 1 - KM overstates improvement |
#
# This notebook writes a SAP with the first two definitions of the same event
# (WHO scale down by 2 or more, or discharge, by day 28) and runs every survival
# and competing-risks method on the synthetic refractory-hypoxia trial.

# %%
%matplotlib inline
import pandas as pd

import mscstats
from mscstats.report import figures
from mscstats import plan

pd.set_option("display.width", 120)

SAP = """
[study]
id = "NCT05689008-ttci"
title = "Time to clinical improvement: survival and competing risks"
arms = ["control", "UC-MSC"]
population = "ITT"
alpha = 0.05
seed = 20230115

[[endpoint]]
id = "ttci"
label = "Time to clinical improvement, death censored at day 28"
kind = "time_to_event"
horizon = 28
event.any = [ { param = "WHOCPS", chg = -2, op = "<=" }, { state = "discharged" } ]
death = "censor_at_horizon"

[[endpoint]]
id = "ttci_cr"
label = "Time to clinical improvement, death competing"
kind = "time_to_event"
horizon = 28
event.any = [ { param = "WHOCPS", chg = -2, op = "<=" }, { state = "discharged" } ]
death = "competing"

[[analysis]]
id = "km"
endpoint = "ttci"
method = "km"
landmarks = [7, 14, 28]

[[analysis]]
id = "logrank"
endpoint = "ttci"
method = "logrank"

[[analysis]]
id = "cox"
endpoint = "ttci"
method = "cox"
covariates = ["AGE"]

[[analysis]]
id = "rmst"
endpoint = "ttci"
method = "rmst"
tau = 28

[[analysis]]
id = "cuminc"
endpoint = "ttci_cr"
method = "cuminc"
landmarks = [7, 14, 28]

[[analysis]]
id = "finegray"
endpoint = "ttci_cr"
method = "finegray"
"""
sap = plan.parse_sap(SAP, source="ttci.toml")
trial = mscstats.load("../data/synthetic/refractory-hypoxia", sap=sap)
results = mscstats.analyze(trial, sap)
[a.id for a in results.analyses]

# %% [markdown]
# ## The two derivations side by side
#
# The subjects who died before improving: with `censor_at_horizon` they are
# censored at day 28; with `competing` their time is the death day and EVNTCD = 2.

# %%
endpoints = mscstats.endpoints(trial, sap)
wide = endpoints.pivot(index=["USUBJID", "ARM"], columns="ENDPOINT",
                       values=["AVAL", "CNSR", "EVNTCD"])
wide.columns = [f"{value}_{endpoint}" for value, endpoint in wide.columns]
dead_first = wide[wide["EVNTCD_ttci_cr"] == 2]
dead_first.join(trial.adsl.set_index("USUBJID")["DTHDY"], on="USUBJID")

# %%
pd.crosstab(wide.index.get_level_values("ARM"), wide["EVNTCD_ttci_cr"].map(
    {0: "censored", 1: "improved", 2: "died first"}), margins=True)

# %% [markdown]
# ## Kaplan-Meier, log-rank, Cox and RMST (death censored at day 28)

# %%
print(results["km"])

# %%
landmarks = pd.DataFrame([
    {"arm": arm, "day": int(day), "S(t)": v["survival"], "lower": v["lower"],
     "upper": v["upper"], "at risk": v["n_risk"]}
    for arm, stats in results["km"].by_arm.items()
    for day, v in stats["landmarks"].items()])
landmarks.round(3)

# %%
for analysis in ("logrank", "cox", "rmst"):
    print(results[analysis], end="\n\n")

# %% [markdown]
# A hazard ratio above 1 means *faster* improvement on UC-MSC. The RMST is the
# mean number of days without improvement up to day 28 (the area under the KM
# curve): a negative difference means UC-MSC subjects improved sooner on average.

# %%
ax = figures.plot_survival(results["km"].curves)
ax.set_title("Time to clinical improvement (death censored at day 28)")
ax.figure

# %% [markdown]
# ## Cumulative incidence, Gray's test and Fine-Gray (death competing)

# %%
print(results["cuminc"])
print()
print(results["finegray"])

# %%
pd.DataFrame([
    {"arm": arm, "day": int(day), **values}
    for arm, stats in results["cuminc"].by_arm.items()
    for day, values in stats["landmarks"].items()]).round(3)

# %%
ax = figures.plot_cumulative_incidence(results["cuminc"].curves,
                                       ylabel="Cumulative incidence of improvement")
ax.set_title("Clinical improvement with death as a competing event")
ax.figure

# %% [markdown]
# ## Comparing the two views
#
# With death censored at the horizon, 1 - KM at day 28 is the proportion improved
# by day 28 counting the dead as not improved; the cumulative incidence with death
# competing estimates the same quantity by Aalen-Johansen. Keeping the dead in the
# risk set to the horizon is what the Fine-Gray subdistribution does too, so the
# two views give (nearly) the same numbers; they can differ only through subjects
# lost to follow-up before day 28. Censoring the dead at their death day
# (`death = "censor"`) instead would inflate 1 - KM: it treats the dead as if they
# could still improve.

# %%
rows = []
for arm in sap.study.arms:
    km28 = results["km"].by_arm[arm]["landmarks"]["28"]["survival"]
    cif28 = results["cuminc"].by_arm[arm]["landmarks"]["28"]["cumulative_incidence"]
    rows.append({"arm": arm, "1 - KM(28), death censored at 28": 1 - km28,
                 "CIF(28), death competing": cif28})
pd.DataFrame(rows).round(3)

# %%
hr = results["logrank"].comparison("UC-MSC")
shr = results["finegray"].comparison("UC-MSC")
pd.DataFrame([
    {"analysis": "Cox (log-rank p)", "estimand": hr.estimand, "estimate": hr.estimate,
     "lower": hr.ci[0], "upper": hr.ci[1], "p": hr.p_value},
    {"analysis": "Fine-Gray", "estimand": shr.estimand, "estimate": shr.estimate,
     "lower": shr.ci[0], "upper": shr.ci[1], "p": shr.p_value},
]).round(3)

# %% [markdown]
# The Cox hazard ratio of the censored-at-horizon endpoint, the same adjusted for
# age, and the Fine-Gray subdistribution hazard ratio:

# %%
ax = figures.plot_forest([(results[a], results[a].comparison("UC-MSC"))
                          for a in ("logrank", "cox", "finegray")])
ax.figure
