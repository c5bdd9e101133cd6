# Reference outputs for mscstats/analysis/cores/km.py, logrank.py, cox.py, rmst.py and survival.py.
#
# Run from the repository root:
#   python tests/reference/survival/survival_data.py      # synthetic trials' endpoint tables
#   Rscript tests/reference/survival/survival.R
# Writes R's lung, veteran and mgus2 and small edge cases as CSV into
# tests/reference/data/ (ADTTE-like columns: USUBJID, ARM, AVAL, CNSR, EVNTCD and
# covariates), and survfit / survdiff / coxph results into
# tests/reference/survival/survival.json. Every statistic is computed from the CSV as read
# back, so Python and R see the same doubles. The tests never need R.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
source(file.path("tests", "reference", "helpers.R"))   # num, write_csv_back
data_dir <- file.path("tests", "reference", "survival", "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

write_data <- function(d, name) {
  write_csv_back(d, data_dir, name)
  read_data(name)
}
read_data <- function(name) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  d$EVENT <- as.numeric(d$CNSR == 0 & d$EVNTCD != 2)
  d
}
adtte <- function(id, arm, time, event, ...) {
  data.frame(USUBJID = sprintf("%s-%04d", id, seq_along(time)), ARM = arm, AVAL = time,
             CNSR = 1 - event, EVNTCD = event, ..., stringsAsFactors = FALSE)
}

# ---------------------------------------------------------------- data sets
sets <- list()
l <- survival::lung
sets$lung <- write_data(adtte("L", ifelse(l$sex == 1, "male", "female"), l$time,
                              as.numeric(l$status == 2), AGE = l$age, STRATUM = l$ph.ecog), "lung")
v <- survival::veteran
sets$veteran <- write_data(adtte("V", ifelse(v$trt == 1, "standard", "test"), v$time, v$status,
                                 AGE = v$age, KARNO = v$karno, CELLTYPE = as.character(v$celltype)),
                           "veteran")
m <- survival::mgus2
sets$mgus2 <- write_data(adtte("M", m$sex, m$futime, m$death, AGE = m$age), "mgus2")

set.seed(20230115)
# n = 10, two arms, distinct times
sets$n10 <- write_data(adtte("N", rep(c("placebo", "UC-MSC"), each = 5),
                             c(3, 8, 12, 15, 21, 5, 9, 14, 22, 28), c(1, 1, 0, 1, 1, 1, 0, 1, 1, 0)), "n10")
# heavy ties: days 1 to 4 only, 40 subjects
arm <- rep(c("control", "UC-MSC"), each = 20)
sets$heavy_ties <- write_data(adtte("T", arm, sample(1:4, 40, TRUE), rbinom(40, 1, 0.7),
                                    AGE = round(runif(40, 30, 75)),
                                    STRATUM = sample(c("mild", "severe"), 40, TRUE)), "heavy_ties")
# no events in the treated arm
sets$surv_no_events_arm <- write_data(adtte("E", rep(c("control", "UC-MSC"), c(8, 8)),
                                       c(2, 4, 4, 7, 9, 12, 15, 28, 5, 10, 14, 20, 28, 28, 28, 28),
                                       c(1, 1, 1, 0, 1, 1, 0, 0, rep(0, 8))), "surv_no_events_arm")
# one stratum holds a single subject; three arms
arm3 <- rep(c("standard", "Paxlovid", "UC-MSC"), each = 10)
st <- c(rep(c("mild", "severe"), 14), "mild", "critical")
sets$one_subject_stratum <- write_data(adtte("S", arm3, round(rexp(30, 1 / 12)) + 1,
                                             rbinom(30, 1, 0.75), AGE = round(runif(30, 20, 80)),
                                             STRATUM = st), "one_subject_stratum")
# all censored, single arm
sets$all_censored <- write_data(adtte("C", "BM-MSC", c(3, 7, 7, 14, 28, 28), rep(0, 6)),
                                "all_censored")
# a flat stretch at exactly S = 0.5 (median is a midpoint)
sets$flat_half <- write_data(adtte("H", "BM-MSC", c(2, 4, 6, 8, 10, 12), c(1, 1, 1, 0, 1, 1)),
                             "flat_half")
synthetic <- c("refractory-hypoxia_ttci", "refractory-hypoxia_ttpf300", "three-arm-paxlovid_ttci",
               "single-arm-bm-msc_ttci", "prevent-progression_ttprog")
for (s in synthetic) sets[[s]] <- read_data(s)

# ---------------------------------------------------------------- survfit
km_case <- function(case, data, arm, conf_type = "log-log", level = 0.95,
                    landmarks = NULL, tau = NULL) {
  d <- sets[[data]]
  if (!is.null(arm)) d <- d[d$ARM == arm, ]
  fit <- survfit(Surv(AVAL, EVENT) ~ 1, data = d, conf.type = conf_type, conf.int = level)
  tab <- summary(fit)$table
  out <- list(case = case, data = data, arm = arm, conf_type = conf_type, level = level,
              call = sprintf("survfit(Surv(AVAL, EVENT) ~ 1, conf.type = '%s', conf.int = %g)",
                             conf_type, level),
              time = num(fit$time), n_risk = num(fit$n.risk), n_event = num(fit$n.event),
              n_censor = num(fit$n.censor), surv = num(fit$surv), std_err = num(fit$std.err),
              lower = num(fit$lower), upper = num(fit$upper),
              median = num(tab["median"]), median_lower = num(tab[paste0(level, "LCL")]),
              median_upper = num(tab[paste0(level, "UCL")]))
  if (!is.null(landmarks)) {
    s <- summary(fit, times = landmarks, extend = TRUE)
    out$landmarks <- list(times = num(s$time), surv = num(s$surv), lower = num(s$lower),
                          upper = num(s$upper), std_err = num(s$std.err), n_risk = num(s$n.risk))
  }
  if (!is.null(tau)) {
    r <- summary(fit, rmean = tau)$table
    out$rmst <- list(tau = tau, rmean = num(r["rmean"]), se = num(r["se(rmean)"]))
  }
  out
}
arms_of <- function(data) unique(sets[[data]]$ARM)
km <- list()
add_km <- function(data, ...) for (a in arms_of(data))
  km[[length(km) + 1]] <<- km_case(paste(data, a, list(...)$conf_type, sep = "/"), data, a, ...)
for (ct in c("log-log", "log", "plain"))
  add_km("lung", conf_type = ct, landmarks = c(90, 180, 365, 1000, 2000), tau = 365)
add_km("lung", conf_type = "log-log", level = 0.9, landmarks = c(30.5, 365), tau = 1022)
add_km("veteran", conf_type = "log-log", landmarks = c(30, 90, 180), tau = 180)
add_km("mgus2", conf_type = "log-log", landmarks = c(12, 60, 120), tau = 120)
for (s in synthetic) add_km(s, conf_type = "log-log", landmarks = c(7, 14, 28), tau = 28)
add_km("refractory-hypoxia_ttci", conf_type = "plain", landmarks = c(7, 14, 28), tau = 20)
for (s in c("n10", "heavy_ties", "surv_no_events_arm", "one_subject_stratum", "all_censored", "flat_half"))
  add_km(s, conf_type = "log-log", landmarks = c(1, 7, 14, 28, 60), tau = 28)
add_km("flat_half", conf_type = "log", landmarks = c(1, 7), tau = 12)

# ---------------------------------------------------------------- survdiff
# survdiff has no gamma: the Fleming-Harrington G(rho, gamma) reference below is
# written out from survdiff's own definition and checked to equal survdiff at gamma = 0.
fh_test <- function(d, rho, gamma, strata = NULL) {
  g <- factor(d$ARM); k <- nlevels(g)
  s <- if (is.null(strata)) rep(1, nrow(d)) else d[[strata]]
  O <- E <- numeric(k); V <- matrix(0, k, k)
  for (st in unique(s)) {
    x <- d[s == st, ]; gx <- g[s == st]
    km <- survfit(Surv(AVAL, EVENT) ~ 1, data = x)
    for (t in sort(unique(x$AVAL[x$EVENT == 1]))) {
      left <- if (any(km$time < t)) km$surv[max(which(km$time < t))] else 1
      w <- left^rho * (1 - left)^gamma
      r <- x$AVAL >= t
      n <- sum(r); dd <- sum(x$EVENT[x$AVAL == t])
      ng <- as.numeric(table(gx[r])); dg <- as.numeric(table(gx[x$AVAL == t & x$EVENT == 1]))
      O <- O + w * dg; E <- E + w * dd * ng / n
      if (n > 1) V <- V + w^2 * dd * (n - dd) / (n - 1) * (diag(ng / n, k) - outer(ng / n, ng / n))
    }
  }
  keep <- which(E > 0)[-1]
  chisq <- sum(solve(V[keep, keep, drop = FALSE], (O - E)[keep]) * (O - E)[keep])
  list(chisq = chisq, df = length(keep))
}
sd_case <- function(case, data, strata = NULL, rho = 0, gamma = 0, arms = NULL) {
  d <- sets[[data]]
  if (!is.null(strata)) d <- d[!is.na(d[[strata]]), ]
  if (!is.null(arms)) d <- d[d$ARM %in% arms, ]
  out <- list(case = case, data = data, strata = strata, rho = rho, gamma = gamma, arms = arms)
  if (gamma == 0) {
    f <- if (is.null(strata)) survdiff(Surv(AVAL, EVENT) ~ ARM, data = d, rho = rho)
         else survdiff(as.formula(sprintf("Surv(AVAL, EVENT) ~ ARM + strata(%s)", strata)),
                       data = d, rho = rho)
    ob <- if (is.matrix(f$obs)) rowSums(f$obs) else f$obs
    ex <- if (is.matrix(f$exp)) rowSums(f$exp) else f$exp
    df <- sum(ex > 0) - 1
    fh <- fh_test(d, rho, 0, strata)
    stopifnot(abs(fh$chisq - f$chisq) < 1e-8 * max(1, f$chisq))
    out <- c(out, list(call = paste(deparse(f$call), collapse = ""),
                       groups = sub("^ARM=", "", names(f$n)), n = num(f$n),
                       observed = num(ob), expected = num(ex), variance = num(f$var),
                       chisq = num(f$chisq), df = df, p_value = num(pchisq(f$chisq, df, lower.tail = FALSE))))
  } else {
    fh <- fh_test(d, rho, gamma, strata)
    out <- c(out, list(call = "fh_test (survdiff's definition with weight S(t-)^rho (1 - S(t-))^gamma)",
                       chisq = fh$chisq, df = fh$df,
                       p_value = pchisq(fh$chisq, fh$df, lower.tail = FALSE)))
  }
  out
}
# veteran by cell type: the 4-arm test uses CELLTYPE as the arm
sets$veteran_celltype <- write_data(transform(sets$veteran, ARM = CELLTYPE, EVENT = NULL),
                                    "veteran_celltype")
survdiffs <- list(
  sd_case("lung", "lung"), sd_case("lung/strata", "lung", "STRATUM"),
  sd_case("lung/rho1", "lung", rho = 1), sd_case("lung/rho0.5/strata", "lung", "STRATUM", rho = 0.5),
  sd_case("lung/fh(0,1)", "lung", rho = 0, gamma = 1), sd_case("lung/fh(1,1)", "lung", rho = 1, gamma = 1),
  sd_case("veteran/celltype 4 arms", "veteran_celltype"),
  sd_case("veteran/strata celltype", "veteran", "CELLTYPE"),
  sd_case("mgus2", "mgus2"), sd_case("mgus2/rho1", "mgus2", rho = 1),
  sd_case("n10", "n10"), sd_case("n10/rho1", "n10", rho = 1),
  sd_case("heavy_ties", "heavy_ties"), sd_case("heavy_ties/strata", "heavy_ties", "STRATUM"),
  sd_case("heavy_ties/fh(1,1)", "heavy_ties", rho = 1, gamma = 1),
  sd_case("no_events_arm", "surv_no_events_arm"),
  sd_case("one_subject_stratum", "one_subject_stratum", "STRATUM"),
  sd_case("one_subject_stratum/pair", "one_subject_stratum", "STRATUM", arms = c("standard", "UC-MSC")),
  sd_case("refractory-hypoxia_ttci", "refractory-hypoxia_ttci"),
  sd_case("refractory-hypoxia_ttpf300", "refractory-hypoxia_ttpf300"),
  sd_case("three-arm-paxlovid_ttci/strata", "three-arm-paxlovid_ttci", "STRATUM"),
  sd_case("three-arm-paxlovid_ttci/strata/Paxlovid", "three-arm-paxlovid_ttci", "STRATUM",
          arms = c("standard", "Paxlovid")),
  sd_case("three-arm-paxlovid_ttci/strata/UC-MSC", "three-arm-paxlovid_ttci", "STRATUM",
          arms = c("standard", "UC-MSC")),
  sd_case("prevent-progression_ttprog", "prevent-progression_ttprog"))

# ---------------------------------------------------------------- coxph
model_test <- function(x, df) num(c(x, df, pchisq(x, df, lower.tail = FALSE)))
cox_case <- function(case, data, arms, covariates = character(), strata = NULL, ties = "efron") {
  d <- sets[[data]]
  d <- d[d$ARM %in% arms, ]
  d$ARM <- factor(d$ARM, levels = arms)
  rhs <- paste(c("ARM", covariates, if (!is.null(strata)) sprintf("strata(%s)", strata)), collapse = " + ")
  warned <- FALSE
  f <- withCallingHandlers(coxph(as.formula(paste("Surv(AVAL, EVENT) ~", rhs)), data = d, ties = ties),
                           warning = function(w) { warned <<- TRUE; invokeRestart("muffleWarning") })
  s <- summary(f)
  list(case = case, data = data, arms = arms, covariates = covariates, strata = strata, ties = ties,
       call = paste(deparse(f$call), collapse = ""), names = names(coef(f)),
       coef = num(coef(f)), se = num(sqrt(diag(f$var))), loglik = num(f$loglik),
       ci_lower = num(s$conf.int[, "lower .95"]), ci_upper = num(s$conf.int[, "upper .95"]),
       p = num(s$coefficients[, "Pr(>|z|)"]), n = f$n, nevent = f$nevent,
       # summary(f)$waldtest etc. are rounded for printing: take the fit's own numbers
       wald = model_test(f$wald.test, length(coef(f))), score = model_test(f$score, length(coef(f))),
       likelihood_ratio = model_test(2 * diff(f$loglik), length(coef(f))),
       infinite_warning = warned)
}
coxes <- list(
  cox_case("lung", "lung", c("male", "female")),
  cox_case("lung/breslow", "lung", c("male", "female"), ties = "breslow"),
  cox_case("lung/age/strata", "lung", c("male", "female"), "AGE", "STRATUM"),
  cox_case("veteran/karno+age/strata celltype", "veteran", c("standard", "test"), c("KARNO", "AGE"), "CELLTYPE"),
  cox_case("veteran/celltype", "veteran", c("standard", "test"), "CELLTYPE"),
  cox_case("veteran_celltype 4 arms", "veteran_celltype", c("squamous", "smallcell", "adeno", "large"), "KARNO"),
  cox_case("mgus2", "mgus2", c("F", "M")),
  cox_case("mgus2/age/breslow", "mgus2", c("F", "M"), "AGE", ties = "breslow"),
  cox_case("mgus2/age/efron", "mgus2", c("F", "M"), "AGE"),
  cox_case("n10", "n10", c("placebo", "UC-MSC")),
  cox_case("heavy_ties/efron", "heavy_ties", c("control", "UC-MSC"), "AGE", "STRATUM"),
  cox_case("heavy_ties/breslow", "heavy_ties", c("control", "UC-MSC"), "AGE", ties = "breslow"),
  cox_case("no_events_arm", "surv_no_events_arm", c("control", "UC-MSC")),
  cox_case("one_subject_stratum", "one_subject_stratum", c("standard", "Paxlovid", "UC-MSC"), "AGE", "STRATUM"),
  cox_case("one_subject_stratum/pair", "one_subject_stratum", c("standard", "UC-MSC"), strata = "STRATUM"),
  cox_case("refractory-hypoxia_ttci", "refractory-hypoxia_ttci", c("control", "UC-MSC")),
  cox_case("refractory-hypoxia_ttpf300", "refractory-hypoxia_ttpf300", c("control", "UC-MSC")),
  cox_case("three-arm-paxlovid_ttci/age", "three-arm-paxlovid_ttci", c("standard", "Paxlovid", "UC-MSC"), "AGE"),
  cox_case("three-arm-paxlovid_ttci/strata/Paxlovid", "three-arm-paxlovid_ttci", c("standard", "Paxlovid"), strata = "STRATUM"),
  cox_case("three-arm-paxlovid_ttci/strata/UC-MSC", "three-arm-paxlovid_ttci", c("standard", "UC-MSC"), strata = "STRATUM"),
  cox_case("prevent-progression_ttprog", "prevent-progression_ttprog", c("placebo", "UC-MSC")))

ref <- list(generated_by = "tests/reference/survival.R -- generated file, do not edit",
            R = R.version.string, packages = list(survival = as.character(packageVersion("survival"))),
            km = km, survdiff = survdiffs, coxph = coxes)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, na = "string", null = "null", pretty = TRUE),
           file.path("tests", "reference", "survival", "survival.json"))
cat("wrote tests/reference/survival/survival.json:", length(km), "survfit,", length(survdiffs), "survdiff,",
    length(coxes), "coxph cases\n")
