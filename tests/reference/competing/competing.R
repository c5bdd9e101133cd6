# Reference outputs for mscstats/analysis/cores/cuminc.py, gray.py, finegray.py and competing.py.
#
# Run from the repository root:  Rscript tests/reference/competing/competing.R
# Writes the data sets (CSV) into
# tests/reference/data/ and the cmprsk results into tests/reference/competing/competing.json.
# Every statistic is computed from the CSV as read back, so Python and R see
# the same doubles. The tests never need R.
#
# Cause codes (EVNTCD): 0 censored, 1 event of interest, 2 competing.
suppressPackageStartupMessages({ library(survival); library(cmprsk); library(jsonlite) })
source(file.path("tests", "reference", "helpers.R"))   # num, write_csv_back
data_dir <- file.path("tests", "reference", "competing", "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

write_data <- function(d, name) write_csv_back(d, data_dir, name)
level <- 0.95
z <- qnorm(1 - (1 - level) / 2)

# ---------------------------------------------------------------- data sets
sets <- list()

# mgus2 (survival): progression to plasma cell malignancy (1) vs death (2).
m <- survival::mgus2
m <- data.frame(USUBJID = sprintf("M-%04d", m$id), ARM = m$sex, AGE = m$age,
                AVAL = ifelse(m$pstat == 0, m$futime, m$ptime),
                EVNTCD = ifelse(m$pstat == 0, 2 * m$death, 1))
m$STRATUM <- as.character(cut(m$AGE, c(0, 60, 70, 120), labels = c("<=60", "61-70", ">70")))
sets$mgus2 <- write_data(m, "cr_mgus2")

# The synthetic refractory-hypoxia trial: ttci_cr (time to clinical improvement,
# death competing), as `mscstats derive` writes it, with AGE, SEX, STRATUM of adsl.
# Written by tests/reference/competing/hypoxia_ttci_cr.py (run it first: R's child processes
# may not see the Python environment).
h <- read.csv(file.path(data_dir, "hypoxia_ttci_cr.csv"), stringsAsFactors = FALSE)
sets$hypoxia <- write_data(h, "hypoxia_ttci_cr")

# Three arms with a two-level stratum, integer days (ties of every kind), n = 90.
set.seed(20230115)
arm3 <- rep(c("standard", "Paxlovid", "UC-MSC"), each = 30)
stratum <- sample(c("HFNC/NIV", "IMV"), 90, TRUE)
rate1 <- c(standard = 0.05, Paxlovid = 0.07, "UC-MSC" = 0.09)[arm3] * ifelse(stratum == "IMV", 0.6, 1)
t1 <- rexp(90, rate1); t2 <- rexp(90, 0.02 * ifelse(stratum == "IMV", 2, 1))
cens <- runif(90, 10, 40)
tt <- pmin(t1, t2, cens, 28)
three <- data.frame(USUBJID = sprintf("X-%03d", 1:90), ARM = arm3, STRATUM = stratum,
                    AGE = round(runif(90, 30, 80)), AVAL = ceiling(tt),
                    EVNTCD = ifelse(tt == t1, 1, ifelse(tt == t2, 2, 0)))
sets$three_arm <- write_data(three, "three_arm_strata")

# n = 10, two arms, tied event and censoring times.
small <- data.frame(USUBJID = sprintf("S-%02d", 1:10), ARM = rep(c("control", "UC-MSC"), each = 5),
                    AVAL = c(3, 5, 5, 8, 12, 2, 5, 7, 7, 10),
                    EVNTCD = c(1, 2, 0, 1, 0, 1, 1, 2, 1, 0))
sets$small <- write_data(small, "small_n10")

# No competing events: the cumulative incidence is 1 - Kaplan-Meier.
set.seed(7)
nc <- data.frame(USUBJID = sprintf("N-%02d", 1:24), ARM = rep(c("control", "UC-MSC"), each = 12),
                 AVAL = sample(1:28, 24, TRUE))
nc$EVNTCD <- rbinom(24, 1, 0.7)
sets$no_competing <- write_data(nc, "no_competing")

# One arm without any event of interest (all censored or competing).
ne <- data.frame(USUBJID = sprintf("E-%02d", 1:12), ARM = rep(c("control", "UC-MSC"), each = 6),
                 AVAL = c(4, 6, 9, 12, 20, 28, 3, 8, 10, 15, 21, 28),
                 EVNTCD = c(1, 1, 2, 1, 0, 0, 0, 2, 0, 0, 0, 0))
sets$no_events_arm <- write_data(ne, "no_events_arm")

# ---------------------------------------------------------------- cuminc
# Landmarks include a day after the last follow-up (cmprsk gives NA) and each
# data set's distinct times, so the whole step function is checked.
landmarks <- list(mgus2 = c(12, 60, 120, 240, 400), hypoxia = c(7, 14, 28, 40),
                  three_arm = c(7, 14, 28, 35), small = c(0, 2, 5, 6, 12, 13),
                  no_competing = c(7, 14, 28, 30), no_events_arm = c(7, 14, 28, 30))
cuminc_cases <- list(); gray_cases <- list()
run_cuminc <- function(name, d, strata = NULL) {
  label <- if (is.null(strata)) name else paste0(name, "|strata=", strata)
  ci <- if (is.null(strata)) cuminc(d$AVAL, d$EVNTCD, d$ARM)
        else cuminc(d$AVAL, d$EVNTCD, d$ARM, strata = d[[strata]])
  if (is.null(strata)) {
    days <- sort(unique(c(d$AVAL, landmarks[[name]])))
    tp <- timepoints(ci, days)
    for (arm in sort(unique(d$ARM))) for (cause in c(1, 2)) {
      key <- paste(arm, cause)
      if (!key %in% rownames(tp$est)) next
      est <- num(tp$est[key, ]); var <- num(tp$var[key, ])
      # log(-log) CI, as mscstats reports it (cuminc itself gives none)
      lo <- est^exp(z * sqrt(var) / (est * log(est)))
      hi <- est^exp(-z * sqrt(var) / (est * log(est)))
      cuminc_cases[[length(cuminc_cases) + 1]] <<- list(
        case = paste0(name, "/", arm, "/cause", cause), data = name, arm = arm, cause = cause,
        call = sprintf("timepoints(cuminc(AVAL, EVNTCD, ARM), days)[['%s']]", key),
        days = days, estimate = est, variance = var,
        lower = pmin(lo, hi), upper = pmax(lo, hi), ci_level = level)
    }
  }
  if (!is.null(ci$Tests)) for (cause in rownames(ci$Tests)) {
    gray_cases[[length(gray_cases) + 1]] <<- list(
      case = paste0(label, "/cause", cause), data = name, strata = strata,
      cause = as.numeric(cause),
      call = sprintf("cuminc(AVAL, EVNTCD, ARM%s)$Tests", if (is.null(strata)) "" else
                     paste0(", strata = ", strata)),
      statistic = num(ci$Tests[cause, "stat"]), p_value = num(ci$Tests[cause, "pv"]),
      df = num(ci$Tests[cause, "df"]))
  }
}
for (name in names(sets)) run_cuminc(name, sets[[name]])
run_cuminc("mgus2", sets$mgus2, "STRATUM")
run_cuminc("three_arm", sets$three_arm, "STRATUM")
run_cuminc("hypoxia", sets$hypoxia, "STRATUM")

# ---------------------------------------------------------------- crr
crr_cases <- list()
run_crr <- function(name, d, arms, covariates = character()) {
  x <- sapply(arms[-1], function(a) as.numeric(d$ARM == a))
  x <- matrix(x, nrow = nrow(d), dimnames = list(NULL, paste0("ARM", arms[-1])))
  for (cv in covariates) {
    if (is.numeric(d[[cv]])) {
      x <- cbind(x, d[[cv]]); colnames(x)[ncol(x)] <- cv
    } else for (lev in sort(unique(d[[cv]]))[-1]) {
      x <- cbind(x, as.numeric(d[[cv]] == lev)); colnames(x)[ncol(x)] <- paste0(cv, lev)
    }
  }
  fit <- crr(d$AVAL, d$EVNTCD, x)
  se <- sqrt(diag(fit$var))
  crr_cases[[length(crr_cases) + 1]] <<- list(
    case = paste0(name, "/ref=", arms[1], if (length(covariates)) paste0("+", paste(covariates, collapse = "+")) else ""),
    data = name, arms = arms, covariates = covariates, names = colnames(x),
    call = sprintf("crr(AVAL, EVNTCD, cbind(%s))", paste(colnames(x), collapse = ", ")),
    coef = num(fit$coef), se = num(se), p_value = num(2 * pnorm(-abs(fit$coef / se))),
    shr = num(exp(fit$coef)), lower = num(exp(fit$coef - z * se)), upper = num(exp(fit$coef + z * se)),
    ci_level = level, loglik = num(fit$loglik), loglik_null = num(fit$loglik.null),
    converged = fit$converged)
}
run_crr("mgus2", sets$mgus2, c("F", "M"))
run_crr("mgus2", sets$mgus2, c("F", "M"), c("AGE"))
run_crr("mgus2", sets$mgus2, c("M", "F"))            # relabelled arms: the inverse sHR
run_crr("hypoxia", sets$hypoxia, c("control", "UC-MSC"))
run_crr("hypoxia", sets$hypoxia, c("control", "UC-MSC"), c("AGE", "SEX"))
run_crr("three_arm", sets$three_arm, c("standard", "Paxlovid", "UC-MSC"))
run_crr("three_arm", sets$three_arm, c("standard", "Paxlovid", "UC-MSC"), c("STRATUM", "AGE"))
run_crr("small", sets$small, c("control", "UC-MSC"))
run_crr("no_competing", sets$no_competing, c("control", "UC-MSC"))

out <- list(generated_by = "tests/reference/competing.R -- generated, do not edit",
            R = R.version.string,
            packages = list(cmprsk = as.character(packageVersion("cmprsk")),
                            survival = as.character(packageVersion("survival")),
                            jsonlite = as.character(packageVersion("jsonlite"))),
            ci = "log(-log): est^exp(+-z sqrt(var) / (est log est)), z = qnorm(0.975)",
            cuminc = cuminc_cases, gray = gray_cases, crr = crr_cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path("tests", "reference", "competing", "competing.json"))
