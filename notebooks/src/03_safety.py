# %% [markdown]
# # Safety: adverse events by arm
#
# The safety tables of the report, built step by step with `mscstats.summaries.safety`
# (full-precision counts and risk differences) and `mscstats.report.tables` (the
# formatted tables), on the synthetic refractory-hypoxia trial (UC-MSC on days 1
# and 4 vs control).
#
# Rules ([docs/report.md](../docs/report.md)): treatment-emergent events are those
# starting on or after day 1 (the first dose); the denominator is the arm's safety
# population (subjects who received at least one dose when `ex` is given);
# a subject counts once per row however many events they had. An event is
# *infusion-associated* when it started within 6 hours after a dose (on the day of
# a dose when either clock time is missing).

# %%
%matplotlib inline
import pandas as pd

import mscstats
from mscstats.report import figures, tables
from mscstats import plan
from mscstats.summaries import safety

pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 60)

sap = plan.template("refractory-hypoxia")
trial = mscstats.load("../data/synthetic/refractory-hypoxia", sap=sap)
arms = list(sap.study.arms)
subjects = trial.population("safety")
ae = safety.treatment_emergent(trial, subjects)
print(f"{len(trial.adae)} adverse events recorded, {len(ae)} treatment-emergent, "
      f"in {ae['USUBJID'].nunique()} of {len(subjects)} subjects of the safety population")
subjects.groupby("ARM").size().rename("safety population")

# %%
ae[["USUBJID", "ARM", "AESTDY", "AEDECOD", "AEBODSYS", "AETOXGR", "AESER", "AEREL",
    "INFUSION"]].head(8)

# %% [markdown]
# ## Overview: any, serious, related, grade >= 3, fatal, infusion-associated
#
# `safety.ae_categories` counts subjects with at least one event of each kind;
# `safety.risk_differences` adds UC-MSC minus control with Newcombe's hybrid score
# interval (the interval of the binary analyses).

# %%
categories = safety.ae_categories(ae, subjects, arms)
rd = safety.risk_differences(categories, arms)
categories.pivot(index="AEBODSYS", columns="ARM", values="n").loc[
    categories["AEBODSYS"].unique(), arms]

# %%
tables.ae_category_table(categories, rd, arms).to_frame()

# %% [markdown]
# ## By body system and preferred term

# %%
incidence = safety.ae_incidence(ae, subjects, arms)
tables.ae_term_table(incidence, arms, "Adverse events by body system and preferred term")\
    .to_frame()

# %% [markdown]
# ## Infusion-associated events (within 6 hours after a dose)
#
# Only the UC-MSC arm is dosed in this open-label design, so infusion-associated
# events can only occur there.

# %%
infusion = safety.infusion_events(ae)
print(f"{len(infusion)} infusion-associated events in "
      f"{infusion['USUBJID'].nunique()} subjects")
tables.ae_term_table(safety.ae_incidence(infusion, subjects, arms), arms,
                     "Infusion-associated adverse events (within 6 hours after a dose)")\
    .to_frame()

# %% [markdown]
# The SAP also analyses the subjects with a serious and with an infusion-associated
# event as binary endpoints (Fisher's exact test, risk difference, risk and odds
# ratios): analyses `sae` and `infusion_ae`.

# %%
results = mscstats.analyze(trial, sap)
for analysis in ("sae", "infusion_ae"):
    print(results[analysis], end="\n\n")

# %% [markdown]
# ## Deaths and serious adverse events

# %%
tables.listing_table(safety.serious_listing(ae, trial, subjects)).to_frame()

# %% [markdown]
# ## The adverse-event figure
#
# The most common preferred terms: the proportion of each arm with the event
# (left) and the risk difference UC-MSC minus control with its 95% CI (right).

# %%
top = safety.most_common_terms(incidence, limit=12)
ax = figures.plot_ae_incidence(top, safety.risk_differences(top, arms))
ax.figure
