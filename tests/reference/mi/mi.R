# Reference outputs for mscstats/analysis/cores/mi.py and missing_data.py (multiple
# imputation and the tipping point).
#
# Run from the repository root, after the Python fixture that writes the data:
#   python tests/reference/mi/mi_inputs.py && Rscript tests/reference/mi/mi.R
# Reads the completed data sets in tests/reference/mi/ (written by mscstats's
# imputation) and writes mi.json beside them: mice::pool (Rubin's rules,
# Barnard-Rubin df) of lm, Welch and one-sample analyses of every completed data
# set; mice's estimice and the moments of 20,000 .norm.draw draws on a fixed data
# set; fisher.test and chisq.test on every completed 2 x 2 table of tipping-point
# grids. The tests never need R.
suppressPackageStartupMessages({ library(jsonlite); library(mice) })
source(file.path("tests", "reference", "helpers.R"))   # num
dir <- file.path("tests", "reference", "mi")
read <- function(name) read.csv(file.path(dir, "data", paste0(name, ".csv")), stringsAsFactors = FALSE)

pooled_fields <- function(p) list(ubar = num(p$ubar), b = num(p$b), t = num(p$t),
                                  dfcom = num(p$dfcom), riv = num(p$riv),
                                  lambda = num(p$lambda), fmi = num(p$fmi))

# ---------------------------------------------------------------- lm + mice::pool
lm_case <- function(case, name, arms, formula = Y ~ ARM + BASE + AGE) {
  d <- read(name)
  d$ARM <- factor(d$ARM, levels = arms)
  fits <- lapply(sort(unique(d$.imp)), function(i) lm(formula, data = d[d$.imp == i, ]))
  p <- pool(as.mira(fits))
  s <- summary(p, conf.int = TRUE, conf.level = 0.95)
  terms <- paste0("ARM", arms[-1])
  list(case = case, data = name, arms = arms,
       r_call = paste0("pool(as.mira(lapply(imps, function(i) lm(", deparse(formula),
                       ", d[d$.imp == i, ])))); summary(., conf.int = TRUE)"),
       m = p$m,
       terms = lapply(terms, function(term) {
         r <- s[as.character(s$term) == term, ]; q <- p$pooled[as.character(p$pooled$term) == term, ]
         c(list(term = term, estimate = num(r$estimate), se = num(r$std.error),
                statistic = num(r$statistic), df = num(r$df), p_value = num(r$p.value),
                ci = c(num(r[["2.5 %"]]), num(r[["97.5 %"]]))), pooled_fields(q))
       }))
}
lm_cases <- list(lm_case("two_arm_mar", "completed_two_arm", c("control", "UC-MSC")),
                 lm_case("two_arm_j2r", "completed_two_arm_j2r", c("control", "UC-MSC")),
                 lm_case("three_arm_mar", "completed_three_arm", c("standard", "Paxlovid", "UC-MSC")),
                 lm_case("refractory_hypoxia_primary_mi", "completed_refractory_hypoxia_primary_mi",
                         c("control", "UC-MSC"), Y ~ ARM + BASE))

# ---------------------------------------------------------------- delta-adjusted (tipping point)
# the UC-MSC subjects missing on day 7 in visits_two_arm.csv get delta added to every imputation
delta_case <- function(delta) {
  d <- read("completed_two_arm")
  v <- read("visits_two_arm")
  shifted <- v$USUBJID[is.na(v$Y7) & v$ARM == "UC-MSC"]
  d$Y <- d$Y + delta * (d$USUBJID %in% shifted)
  d$ARM <- factor(d$ARM, levels = c("control", "UC-MSC"))
  fits <- lapply(sort(unique(d$.imp)), function(i) lm(Y ~ ARM + BASE + AGE, data = d[d$.imp == i, ]))
  s <- summary(pool(as.mira(fits)), conf.int = TRUE)
  r <- s[as.character(s$term) == "ARMUC-MSC", ]
  list(delta = delta, estimate = num(r$estimate), ci = c(num(r[["2.5 %"]]), num(r[["97.5 %"]])),
       p_value = num(r$p.value), df = num(r$df),
       r_call = "Y + delta for UC-MSC subjects missing on day 7; pool(as.mira(lm(Y ~ ARM + BASE + AGE) per imputation))")
}
delta_cases <- lapply(c(-125, -100, -50), delta_case)

# ---------------------------------------------------------------- scalar pooling
scalar <- function(case, q, u, dfcom, r_call) {
  p <- pool.scalar(q, u, n = dfcom + 1, k = 1)
  se <- sqrt(p$t)
  list(case = case, r_call = r_call, q = num(q), u = num(u), dfcom = dfcom,
       estimate = num(p$qbar), se = se, df = num(p$df), ubar = num(p$ubar), b = num(p$b),
       t = num(p$t), riv = num(p$r), fmi = num(p$fmi),
       statistic = num(p$qbar) / se, p_value = 2 * pt(abs(num(p$qbar) / se), p$df, lower.tail = FALSE),
       ci = num(p$qbar) + c(-1, 1) * qt(0.975, p$df) * se)
}
d <- read("completed_two_arm"); imps <- sort(unique(d$.imp))
welch <- lapply(imps, function(i) t.test(d$Y[d$.imp == i & d$ARM == "UC-MSC"],
                                          d$Y[d$.imp == i & d$ARM == "control"]))
welch_q <- sapply(welch, function(h) num(diff(rev(h$estimate))))
welch_u <- sapply(welch, function(h) num(h$stderr)^2)
welch_df <- mean(sapply(welch, function(h) num(h$parameter)))
scalar_cases <- list(
  scalar("welch_two_arm", welch_q, welch_u, welch_df,
         "pool.scalar(Q, U, n = mean(welch df) + 1, k = 1), Q, U from t.test(Y[UC-MSC], Y[control]) per imputation"),
  scalar("mean_uc_msc", sapply(imps, function(i) mean(d$Y[d$.imp == i & d$ARM == "UC-MSC"])),
         sapply(imps, function(i) num(t.test(d$Y[d$.imp == i & d$ARM == "UC-MSC"])$stderr)^2),
         sum(d$.imp == 1 & d$ARM == "UC-MSC") - 1,
         "pool.scalar(Q, U, n = n, k = 1), Q, U from t.test(Y[UC-MSC]) per imputation"))

# ---------------------------------------------------------------- mice's norm
nd <- read("norm_data")
x <- cbind(1, as.matrix(nd[, c("X1", "X2")]))
est <- mice:::estimice(x, nd$Y)
set.seed(20240518)
draws <- replicate(20000, { p <- mice:::.norm.draw(nd$Y, rep(TRUE, nrow(nd)), x)
                            c(num(p$beta), p$sigma^2) })
norm <- list(r_call = "mice:::estimice(cbind(1, X1, X2), Y); 20000 x mice:::.norm.draw(Y, ry = TRUE, cbind(1, X1, X2))",
             coef = num(est$c), v = unname(lapply(1:3, function(i) num(est$v[i, ]))),
             df = est$df, rss = sum(est$r^2), n_draws = ncol(draws),
             beta_mean = num(rowMeans(draws[1:3, ])),
             beta_cov = unname(lapply(1:3, function(i) num(cov(t(draws[1:3, ]))[i, ]))),
             sigma2_mean = mean(draws[4, ]), sigma2_var = var(draws[4, ]))

# ---------------------------------------------------------------- tipping grids
tipping <- function(case, x1, n1, m1, x0, n0, m0) {
  rows <- list()
  for (k1 in 0:m1) for (k0 in 0:m0) {
    tab <- matrix(c(x1 + k1, n1 + m1 - x1 - k1, x0 + k0, n0 + m0 - x0 - k0), 2, byrow = TRUE)
    chi <- suppressWarnings(chisq.test(tab, correct = FALSE)$p.value)
    rows[[length(rows) + 1]] <- list(k_treated = k1, k_reference = k0,
                                     fisher = fisher.test(tab)$p.value,
                                     chi_square = if (is.finite(chi)) chi else "NaN")
  }
  list(case = case, treated = list(events = x1, n = n1, missing = m1),
       reference = list(events = x0, n = n0, missing = m0),
       r_call = "fisher.test(matrix(c(x1 + k1, n1 + m1 - x1 - k1, x0 + k0, n0 + m0 - x0 - k0), 2, byrow = TRUE)); chisq.test(same, correct = FALSE)",
       grid = rows)
}
tipping_cases <- list(tipping("small", 2, 10, 3, 7, 11, 2),
                      tipping("progression", 3, 28, 4, 11, 27, 5),
                      tipping("zero_events", 0, 8, 2, 0, 9, 1))

# ---------------------------------------------------------------- write
pkgs <- c("stats", "mice", "jsonlite")
doc <- list(generated_by = "tests/reference/mi.R -- generated, do not edit",
            R = R.version.string,
            packages = setNames(lapply(pkgs, function(p) as.character(packageVersion(p))), pkgs),
            lm = lm_cases, delta = delta_cases, scalar = scalar_cases, norm = norm, tipping = tipping_cases)
write_json(doc, file.path(dir, "mi.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE,
           na = "string", null = "null")
writeLines(c("Generated by tests/reference/mi_inputs.py (the CSV data sets) and tests/reference/mi.R (mi.json) -- do not edit.",
             paste0("python tests/reference/mi/mi_inputs.py && Rscript tests/reference/mi/mi.R (", R.version.string, "; ",
                    paste(pkgs, sapply(pkgs, function(p) as.character(packageVersion(p))), collapse = ", "), ")")),
           file.path(dir, "README.txt"))
cat("wrote", file.path(dir, "mi.json"), "\n")
