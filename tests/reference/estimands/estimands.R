# Reference values for the intercurrent-event strategies (DESIGN.md section 9).
#
# Run from the repository root, after python tests/reference/estimands/estimands_data.py:
#   Rscript tests/reference/estimands/estimands.R
# Writes tests/reference/estimands/estimands.json (generated -- do not edit).
#
# R derives every endpoint itself from the raw trial in tests/reference/estimands/data/
# (adsl: days of death and discharge; visits: one record per subject, day and
# parameter), by the rules of DESIGN.md 4 and 9, without any number from mscstats:
#   baseline  the last value with ADY <= 1
#   visit     the value in [max(2, day - window), day + window], nearest day, earlier on a tie
#   event     death if DTHDY <= day, else discharge if DSCHDY <= day (death decides)
#   while_*   the last value on days 2..event day
#   composite worst-rank scores on a "higher is better" scale: observed values
#             (negated where lower is better), -1e6 + event day for composite_worst
#             (earlier worse), 1e6 - event day for composite_best (earlier better)
# Worst-rank cases: wilcox.test on those scores; win probability W / (n1 n0); its CI
# Newcombe (2006) method 5 by uniroot. while_* cases: lm(y ~ ARM + BASE).
suppressMessages(library(jsonlite))
source("tests/reference/helpers.R")

dir <- "tests/reference/estimands/data"
adsl <- read.csv(file.path(dir, "adsl.csv"), stringsAsFactors = FALSE)
visits <- read.csv(file.path(dir, "visits.csv"), stringsAsFactors = FALSE)
arms <- c("control", "MSC")

derive <- function(param, kind, day, window, death, discharge) {
  one <- function(i) {
    s <- adsl[i, ]
    v <- visits[visits$USUBJID == s$USUBJID & visits$PARAMCD == param & !is.na(visits$AVAL),
                c("ADY", "AVAL")]
    b <- v[v$ADY <= 1, ]
    base <- if (nrow(b)) b$AVAL[which.max(b$ADY)] else NA
    w <- v[v$ADY >= max(2, day - window) & v$ADY <= day + window, ]
    aval <- if (nrow(w)) w$AVAL[order(abs(w$ADY - day), w$ADY)[1]] else NA
    event <- ""; t <- NA
    if (!is.na(s$DTHDY) && s$DTHDY <= day) {
      event <- "death"; t <- s$DTHDY
    } else if (!is.na(s$DSCHDY) && s$DSCHDY <= day) {
      event <- "discharge"; t <- s$DSCHDY
    }
    strategy <- if (event == "death") death else if (event == "discharge") discharge else ""
    if (strategy %in% c("while_alive", "while_hospitalized")) {
      u <- v[v$ADY >= 2 & v$ADY <= t, ]
      aval <- if (nrow(u)) u$AVAL[which.max(u$ADY)] else NA
    }
    if (strategy == "hypothetical") aval <- NA
    y <- if (kind == "change") aval - base else aval
    data.frame(USUBJID = s$USUBJID, ARM = s$ARM, BASE = base, Y = y, strategy = strategy,
               t = t, stringsAsFactors = FALSE)
  }
  do.call(rbind, lapply(seq_len(nrow(adsl)), one))
}

worst_rank <- function(d, lower_better) {
  z <- if (lower_better) -d$Y else d$Y
  z[d$strategy == "composite_worst"] <- -1e6 + d$t[d$strategy == "composite_worst"]
  z[d$strategy == "composite_best"] <- 1e6 - d$t[d$strategy == "composite_best"]
  d$Z <- z
  d[!is.na(d$Z), ]
}

newcombe5 <- function(theta, m, n, level) {
  z <- qnorm(1 - (1 - level) / 2)
  ns <- (m + n) / 2 - 1
  gap <- function(t) (theta - t)^2 - z^2 * t * (1 - t) * (1 + ns * ((1 - t) / (2 - t) + t / (1 + t))) / (m * n)
  inside <- if (gap(theta) < 0) theta else min(max(theta, 1e-9), 1 - 1e-9)
  lower <- if (theta == 0) 0 else uniroot(gap, c(0, inside), tol = 1e-13)$root
  upper <- if (theta == 1) 1 else uniroot(gap, c(inside, 1), tol = 1e-13)$root
  c(lower, upper)
}

rank_case <- function(id, param, kind, day, window, death, discharge, lower_better) {
  d <- worst_rank(derive(param, kind, day, window, death, discharge), lower_better)
  x <- d$Z[d$ARM == "MSC"]; y <- d$Z[d$ARM == "control"]
  h <- wilcox.test(x, y)
  theta <- num(h$statistic) / (length(x) * length(y))
  list(case = id, kind = "worst_rank",
       call = sprintf("wilcox.test(scores[ARM == 'MSC'], scores[ARM == 'control']) on the worst-rank scores of %s (%s, day %d +/- %d, death %s, discharge %s)",
                      param, kind, day, window, death, discharge),
       statistic = num(h$statistic), p_value = num(h$p.value), method = h$method,
       win_probability = theta, ci = newcombe5(theta, length(x), length(y), 0.95),
       n = list(MSC = length(x), control = length(y)),
       subjects = d$USUBJID, scores = d$Z, strategy = d$strategy)
}

while_case <- function(id, param, kind, day, window, death, discharge) {
  d <- derive(param, kind, day, window, death, discharge)
  d <- d[!is.na(d$Y) & !is.na(d$BASE), ]
  d$ARM <- factor(d$ARM, levels = arms)
  fit <- lm(Y ~ ARM + BASE, data = d)
  co <- summary(fit)$coefficients["ARMMSC", ]
  list(case = id, kind = "while",
       call = sprintf("lm(y ~ ARM + BASE) with y the %s of %s at day %d +/- %d, death %s, discharge %s",
                      kind, param, day, window, death, discharge),
       estimate = num(co["Estimate"]), se = num(co["Std. Error"]), p_value = num(co["Pr(>|t|)"]),
       ci = num(confint(fit)["ARMMSC", ]), df = num(fit$df.residual),
       subjects = d$USUBJID, values = d$Y)
}

cases <- list(
  rank_case("rr_rank", "RR", "change", 7, 1, "composite_worst", "composite_best", TRUE),
  rank_case("spo2_rank", "SPO2", "value", 10, 2, "composite_worst", "treatment_policy", FALSE),
  rank_case("spo2_chg_rank", "SPO2", "change", 12, 1, "composite_worst", "composite_best", FALSE),
  rank_case("rr_rep_rank", "RR", "change", 12, 1, "composite_worst", "composite_best", TRUE),
  rank_case("rr_early_rank", "RR", "value", 5, 1, "composite_worst", "treatment_policy", TRUE),
  while_case("rr_while", "RR", "change", 10, 1, "while_alive", "while_hospitalized"),
  while_case("spo2_while", "SPO2", "value", 7, 1, "while_alive", "treatment_policy"))

out <- list(generated_by = "tests/reference/estimands.R -- generated, do not edit",
            R = R.version.string,
            packages = list(jsonlite = as.character(packageVersion("jsonlite")),
                            stats = as.character(packageVersion("stats"))),
            cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/estimands/estimands.json")
cat("wrote tests/reference/estimands/estimands.json:", length(cases), "cases\n")
