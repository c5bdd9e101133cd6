# %% [markdown]
# # Safety: adverse events by arm
#
# The safety tables of the report come from the safety summary that `mscstats.analyze`
# computes once and stores in results.json (`results.safety`, built by
# `mscstats.summaries.safety`); `mscstats.report.tables` formats it. Here on the
# synthetic refractory-hypoxia trial (UC-MSC on days 1 and 4 vs control).
#
# Rules ([docs/report.md](../docs/report.md)): treatment-emergent events are those
# starting on or after day 1 (the first dose); the denominator is the arm's safety
# population; a subject counts once per row however many events they had, and the
# events are counted too. An event is *fatal* with AETOXGR 5, AESEV or AEOUT FATAL, or a
# death on its start or end day. An event is in the *infusion window* when it started
# within 6 hours after an IV or nebulized dose (on the day of a dose when either clock
# time is missing); oral doses open no window.

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
results = mscstats.analyze(trial, sap)
summary = results.safety
ae = safety.treatment_emergent(trial, trial.population("safety"))
print(f"{len(trial.adae)} adverse events recorded, {len(ae)} treatment-emergent, "
      f"in {ae['USUBJID'].nunique()} of {summary.n_total} subjects of the safety population")
summary.n

# %%
ae[["USUBJID", "ARM", "AESTDY", "AEDECOD", "AEBODSYS", "AETOXGR", "AESER", "AEREL",
    "INFUSION", "FATAL"]].head(8)

# %% [markdown]
# ## Overview: any, serious, related, grade >= 3, fatal, infusion window
#
# Subjects with at least one event of each kind, n (%) [events], and UC-MSC minus
# control with Newcombe's hybrid score interval (the interval of the binary analyses).

# %%
tables.ae_category_table(summary).to_frame()

# %% [markdown]
# ## By body system and preferred term, by descending frequency

# %%
tables.ae_term_table(summary, summary.by_term, "Adverse events by body system and "
                     "preferred term", summary.categories[0]).to_frame()

# %% [markdown]
# ## By maximum grade

# %%
tables.ae_grade_table(summary).to_frame()

# %% [markdown]
# ## Infusion window (within 6 hours after an IV or nebulized dose)
#
# Only the UC-MSC arm is dosed in this open-label design, so infusion-window events
# can only occur there.

# %%
tables.ae_term_table(summary, summary.infusion, "Adverse events within 6 hours after a dose")\
    .to_frame()

# %% [markdown]
# The SAP also analyses the subjects with a serious and with an infusion-associated
# event as binary endpoints (Fisher's exact test, risk difference, risk and odds
# ratios): analyses `sae` and `infusion_ae`.

# %%
for analysis in ("sae", "infusion_ae"):
    print(results[analysis], end="\n\n")

# %% [markdown]
# ## Deaths, serious and fatal adverse events

# %%
tables.listing_table(summary.listing).to_frame()

# %% [markdown]
# ## The adverse-event figure
#
# The most common preferred terms: the proportion of each arm with the event
# (left) and the risk difference UC-MSC minus control with its 95% CI (right).

# %%
top = summary.most_common_rows()
ax = figures.plot_ae_incidence(summary.incidence_frame(top), summary.risk_difference_frame(top))
ax.figure
