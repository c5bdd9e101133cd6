# Reference outputs for mscstats/analysis/compare.py, models.py and multiplicity.py.
#
# Run from the repository root:  Rscript tests/reference/compare/compare.R
# Writes trial-like data sets (CSV) and the R results (compare.json) into
# tests/reference/compare/. Every statistic is computed from the CSV as read
# back, so Python and R see the same doubles. The tests never need R.
suppressPackageStartupMessages({
  library(jsonlite); library(nlme); library(ordinal); library(emmeans)
})
source(file.path("tests", "reference", "helpers.R"))   # num, htest, newcombe, katz, brant_glm
out_dir <- file.path("tests", "reference", "compare")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

write_data <- function(d, name) write_csv_back(d, data_dir, name)
# ---------------------------------------------------------------- data sets
set.seed(20230115)
arms2 <- c("placebo", "UC-MSC")
arms3 <- c("standard", "Paxlovid", "UC-MSC")
subjects <- function(prefix, arm) sprintf("%s-%03d", prefix, seq_along(arm))

# Single arm, n = 10, PaO2/FiO2 change from baseline to day 7 (no ties).
b <- round(rnorm(10, 160, 35), 3)
single <- data.frame(USUBJID = subjects("S", 1:10), ARM = "BM-MSC", DAY = 7,
                     BASE = b, AVAL = round(b + rnorm(10, 25, 30), 3))
single$CHG <- single$AVAL - single$BASE
single <- write_data(single, "single_arm")

# Single arm, log IL-6 (values are natural logs, as derive.py writes them).
b <- round(rnorm(10, log(80), 0.8), 6)
il6 <- data.frame(USUBJID = subjects("S", 1:10), ARM = "BM-MSC", DAY = 7,
                  BASE = b, AVAL = round(b + rnorm(10, -0.6, 0.7), 6))
il6$CHG <- il6$AVAL - il6$BASE
il6 <- write_data(il6, "single_arm_log_il6")

# Single arm with ties and zero changes (WHO-like integer changes), n = 12.
ties1 <- data.frame(USUBJID = subjects("T", 1:12), ARM = "BM-MSC", DAY = 14,
                    BASE = c(5, 6, 5, 4, 6, 5, 7, 5, 6, 5, 4, 6),
                    AVAL = c(3, 4, 5, 2, 3, 5, 4, 1, 6, 2, 5, 3))
ties1$CHG <- ties1$AVAL - ties1$BASE
ties1 <- write_data(ties1, "single_arm_ties")

# Two arms, n = 20 (10 + 10), change in PF to day 7 with covariates.
arm <- rep(arms2, each = 10)
b <- round(rnorm(20, 150, 30), 3)
two <- data.frame(USUBJID = subjects("P", arm), ARM = arm, DAY = 7, BASE = b,
                  AGE = round(runif(20, 30, 75)), SEX = sample(c("F", "M"), 20, TRUE),
                  BMI = round(rnorm(20, 26, 3), 1), STRATUM = sample(c("mild", "moderate"), 20, TRUE))
two$AVAL <- round(b + 20 + 25 * (arm == "UC-MSC") - 0.3 * (b - 150) + rnorm(20, 0, 28), 3)
two$CHG <- two$AVAL - two$BASE
two$CHG[c(4, 17)] <- NA                   # one missing day-7 value in each arm
two <- write_data(two, "two_arm")

# Two arms with ties (integer PF changes): normal approximation with correction.
tt <- data.frame(USUBJID = subjects("Q", arm), ARM = arm, DAY = 7,
                 CHG = round(rnorm(20, 20 + 15 * (arm == "UC-MSC"), 25) / 10) * 10)
tt <- write_data(tt, "two_arm_ties")

# Two larger arms (55 and 52): no ties, normal approximation (n >= 50).
arm_l <- c(rep(arms2[1], 55), rep(arms2[2], 52))
large <- data.frame(USUBJID = subjects("L", arm_l), ARM = arm_l, DAY = 7,
                    CHG = round(rnorm(107, 15 + 12 * (arm_l == "UC-MSC"), 30), 4))
large <- write_data(large, "two_arm_large")

# Three arms, n = 90 (30 each), change in PF to day 7 and covariates.
arm3 <- rep(arms3, each = 30)
b <- round(rnorm(90, 140, 30), 3)
three <- data.frame(USUBJID = subjects("X", arm3), ARM = arm3, DAY = 7, BASE = b,
                    AGE = round(runif(90, 18, 75)), SEX = sample(c("F", "M"), 90, TRUE),
                    BMI = round(runif(90, 20, 30), 1),
                    STRATUM = sample(c("critical", "severe-a", "severe-b"), 90, TRUE))
eff <- c(standard = 0, Paxlovid = 8, "UC-MSC" = 30)[arm3]
three$AVAL <- round(b + 15 + eff - 0.35 * (b - 140) + 0.2 * (three$AGE - 50) +
                    8 * (three$STRATUM == "critical") + rnorm(90, 0, 30), 3)
three$CHG <- three$AVAL - three$BASE
three$CHG[c(7, 45, 46, 88)] <- NA
three <- write_data(three, "three_arm")

# Three arms, ordinal WHO clinical progression scale at day 14.
lat <- rnorm(90, 0, 1) - c(standard = 0, Paxlovid = 0.3, "UC-MSC" = 0.9)[arm3]
who <- as.integer(as.character(cut(lat, c(-Inf, -0.9, -0.3, 0.2, 0.7, 1.3, Inf),
                                   labels = c(2, 4, 5, 6, 7, 10))))
whod <- data.frame(USUBJID = subjects("X", arm3), ARM = arm3, DAY = 14, AVAL = who)
whod$AVAL[c(12, 61)] <- NA
whod <- write_data(whod, "three_arm_who")

# Repeated measures: 3 arms x 20, days 3, 5, 7, 14, CHG in PF, missing visits.
days <- c(3, 5, 7, 14)
armr <- rep(arms3, each = 20)
nr <- length(armr)
S <- matrix(c(400, 250, 180, 120,  250, 600, 380, 260,
              180, 380, 800, 520,  120, 260, 520, 1100), 4)
E <- t(t(chol(S)) %*% matrix(rnorm(4 * nr), 4))
br <- round(rnorm(nr, 140, 30), 3)
agr <- round(runif(nr, 18, 75)); sxr <- sample(c("F", "M"), nr, TRUE)
rep_d <- data.frame(USUBJID = rep(subjects("R", armr), each = 4), ARM = rep(armr, each = 4),
                    DAY = rep(days, nr), BASE = rep(br, each = 4),
                    AGE = rep(agr, each = 4), SEX = rep(sxr, each = 4))
effr <- c(standard = 0, Paxlovid = 1, "UC-MSC" = 3)[rep_d$ARM] * rep_d$DAY
rep_d$CHG <- round(10 + 2 * rep_d$DAY + effr - 0.3 * (rep_d$BASE - 140) +
                   0.15 * (rep_d$AGE - 45) + as.vector(t(E)), 3)
rep_d$AVAL <- rep_d$BASE + rep_d$CHG
drop <- sample(which(rep_d$DAY > 3), 28)        # intermittent and late missing visits
rep_d$CHG[drop] <- NA; rep_d$AVAL[drop] <- NA
rep_d <- write_data(rep_d, "repeated")

# ---------------------------------------------------------------- t tests
arm_values <- function(d, a, col = "CHG") { v <- d[[col]][d$ARM == a]; v[!is.na(v)] }
welch_case <- function(name, data_name, d, trt, ref, level = 0.95, col = "CHG") {
  h <- t.test(arm_values(d, trt, col), arm_values(d, ref, col), var.equal = FALSE,
              conf.level = level)
  r <- htest(h)
  r$estimate <- r$estimate[1] - r$estimate[2]
  c(list(case = name, data = data_name, arm = trt, reference = ref, response = col,
         ci_level = level), r[names(r) != "ci_level"], list(se = num(h$stderr)))
}
welch <- list(
  welch_case("two_arm", "two_arm", two, "UC-MSC", "placebo"),
  welch_case("two_arm_90", "two_arm", two, "UC-MSC", "placebo", 0.90),
  welch_case("three_arm_paxlovid", "three_arm", three, "Paxlovid", "standard"),
  welch_case("three_arm_ucmsc", "three_arm", three, "UC-MSC", "standard"))

paired_t_case <- function(name, d, data_name, level = 0.95) {
  ok <- !is.na(d$AVAL) & !is.na(d$BASE)
  h <- t.test(d$AVAL[ok], d$BASE[ok], paired = TRUE, conf.level = level)
  c(list(case = name, data = data_name, ci_level = level), htest(h)[c("statistic", "df", "p_value", "estimate", "ci")],
    list(se = num(h$stderr)))
}
paired_t <- list(paired_t_case("single_arm", single, "single_arm"),
                 paired_t_case("single_arm_90", single, "single_arm", 0.90),
                 paired_t_case("log_il6", il6, "single_arm_log_il6"),
                 paired_t_case("ties", ties1, "single_arm_ties"))

# ---------------------------------------------------------------- ANCOVA (lm)
ancova_case <- function(name, d, data_name, arms, rhs, level = 0.95) {
  d$ARM <- factor(d$ARM, levels = arms)
  for (f in intersect(c("SEX", "STRATUM"), names(d))) d[[f]] <- factor(d[[f]])  # sorted levels
  fit <- lm(as.formula(paste("CHG ~ ARM +", rhs)), data = d)
  co <- summary(fit)$coefficients; ci <- confint(fit, level = level)
  rows <- paste0("ARM", arms[-1])
  list(case = name, data = data_name, arms = arms, formula = paste("CHG ~ ARM +", rhs),
       ci_level = level, df = fit$df.residual, n = nobs(fit),
       comparisons = lapply(rows, function(r) list(arm = sub("^ARM", "", r),
         estimate = num(co[r, 1]), se = num(co[r, 2]), t = num(co[r, 3]),
         p_value = num(co[r, 4]), ci = num(ci[r, ]))))
}
ancova <- list(
  ancova_case("two_arm_base", two, "two_arm", arms2, "BASE"),
  ancova_case("three_arm_full", three, "three_arm", arms3, "BASE + AGE + SEX + STRATUM"),
  ancova_case("three_arm_full_90", three, "three_arm", arms3, "BASE + AGE + BMI + SEX + STRATUM", 0.90))

# ---------------------------------------------------------------- Wilcoxon
wilcox_case <- function(name, data_name, d, trt, ref, level = 0.95) {
  h <- suppressWarnings(wilcox.test(arm_values(d, trt), arm_values(d, ref), conf.int = TRUE,
                                    conf.level = level))
  c(list(case = name, data = data_name, arm = trt, reference = ref, ci_level = level),
    htest(h)[c("statistic", "p_value", "estimate", "ci", "method")])
}
wilcoxon <- list(
  wilcox_case("two_arm_exact", "two_arm", two, "UC-MSC", "placebo"),
  wilcox_case("two_arm_exact_90", "two_arm", two, "UC-MSC", "placebo", 0.90),
  wilcox_case("two_arm_ties", "two_arm_ties", tt, "UC-MSC", "placebo"),
  wilcox_case("two_arm_large", "two_arm_large", large, "UC-MSC", "placebo"),
  wilcox_case("three_arm_ucmsc", "three_arm", three, "UC-MSC", "standard"),
  wilcox_case("three_arm_paxlovid", "three_arm", three, "Paxlovid", "standard"))

signed_rank_case <- function(name, data_name, d, level = 0.95) {
  h <- suppressWarnings(wilcox.test(d$AVAL, d$BASE, paired = TRUE, conf.int = TRUE, conf.level = level))
  c(list(case = name, data = data_name, ci_level = level), htest(h)[c("statistic", "p_value", "estimate", "ci", "method")])
}
signed_rank <- list(signed_rank_case("single_arm_exact", "single_arm", single),
                    signed_rank_case("single_arm_exact_90", "single_arm", single, 0.90),
                    signed_rank_case("log_il6", "single_arm_log_il6", il6),
                    signed_rank_case("ties_zeros", "single_arm_ties", ties1))
# n >= 50 without ties: normal approximation. The changes of two_arm_large
# taken as one sample of 107 (AVAL = CHG, BASE = 0 gives the same test).
h <- wilcox.test(large$CHG, conf.int = TRUE)
signed_rank[[5]] <- c(list(case = "large", data = "two_arm_large", ci_level = 0.95),
                      htest(h)[c("statistic", "p_value", "estimate", "ci", "method")])

# ---------------------------------------------------------------- binary
# 2 x 2 tables: events / n in the treated arm (x1/n1) and the reference (x2/n2).
tables <- list(c(7, 12, 5, 29), c(7, 12, 3, 29), c(10, 20, 4, 20), c(3, 10, 7, 12),
               c(0, 10, 5, 10), c(6, 15, 0, 15), c(0, 10, 0, 10), c(10, 10, 10, 10),
               c(1, 1, 0, 1), c(14, 30, 9, 30), c(2, 30, 8, 30))
binary <- lapply(tables, function(t) {
  x1 <- t[1]; n1 <- t[2]; x2 <- t[3]; n2 <- t[4]
  m <- matrix(c(x1, n1 - x1, x2, n2 - x2), 2, byrow = TRUE)   # rows: treated, reference
  f <- fisher.test(m)
  f90 <- fisher.test(m, conf.level = 0.90)
  ch <- suppressWarnings(chisq.test(m, correct = FALSE))
  list(table = t, fisher = htest(f)[c("p_value", "estimate", "ci")],
       fisher_90 = htest(f90)[c("p_value", "estimate", "ci")],
       chi_square = list(statistic = num(ch$statistic), df = num(ch$parameter), p_value = num(ch$p.value)),
       newcombe = newcombe(x1, n1, x2, n2, 0.95), newcombe_90 = newcombe(x1, n1, x2, n2, 0.90),
       katz = if (x1 > 0 && x2 > 0) katz(x1, n1, x2, n2, 0.95) else NULL,
       # a zero cell: 0.5 added to each of the four cells (Haldane-Anscombe)
       katz_corrected = if (xor(x1 == 0, x2 == 0)) katz(x1 + 0.5, n1 + 1, x2 + 0.5, n2 + 1, 0.95) else NULL)
})
binom <- lapply(list(c(0, 10), c(3, 10), c(10, 10), c(1, 1), c(7, 20), c(12, 60)), function(t) {
  h <- binom.test(t[1], t[2]); h90 <- binom.test(t[1], t[2], conf.level = 0.90)
  list(events = t[1], n = t[2], estimate = num(h$estimate), ci = num(h$conf.int),
       ci_90 = num(h90$conf.int))
})

# ---------------------------------------------------------------- p.adjust
p_in <- c(0.010, 0.040, 0.030, 0.200, 0.012, 0.049, 0.75)
p_adjust <- list(p = p_in,
                 holm = p.adjust(p_in, "holm"), hochberg = p.adjust(p_in, "hochberg"),
                 bonferroni = p.adjust(p_in, "bonferroni"), none = p.adjust(p_in, "none"),
                 two = list(p = c(0.03, 0.04), holm = p.adjust(c(0.03, 0.04), "holm"),
                            hochberg = p.adjust(c(0.03, 0.04), "hochberg")))

# ---------------------------------------------------------------- ordinal
clm_case <- function(name, d, arms, level = 0.95) {
  d <- d[!is.na(d$AVAL) & d$ARM %in% arms, ]
  d$ARM <- factor(d$ARM, levels = arms)
  fit <- clm(ordered(AVAL) ~ ARM, data = d, link = "logit")
  co <- coef(summary(fit)); rows <- paste0("ARM", arms[-1])
  z <- qnorm(1 - (1 - level) / 2)
  list(case = name, data = "three_arm_who", arms = arms, ci_level = level,
       thresholds = num(fit$alpha), logLik = num(logLik(fit)),
       comparisons = lapply(rows, function(r) {
         b <- co[r, 1]; se <- co[r, 2]
         list(arm = sub("^ARM", "", r), beta = num(b), se = num(se), p_value = num(co[r, 4]),
              common_odds_ratio = num(exp(-b)), ci = num(exp(-b + c(-1, 1) * z * se)))
       }),
       brant = brant_glm(d, arms))
}
ordinal_po <- list(clm_case("three_arm", whod, arms3), clm_case("two_arm", whod, arms3[c(1, 3)]),
                   clm_case("three_arm_90", whod, arms3, 0.90))

# ---------------------------------------------------------------- MMRM via gls
mmrm_case <- function(name, covariance, covariates = character(0)) {
  d <- rep_d[!is.na(rep_d$CHG), ]
  d$ARM <- factor(d$ARM, levels = arms3)
  d$fDAY <- factor(d$DAY, levels = days)
  d$VIS <- match(d$DAY, days)
  for (f in intersect(covariates, c("SEX", "STRATUM"))) d[[f]] <- factor(d[[f]])
  rhs <- paste(c("ARM * fDAY", "BASE * fDAY", covariates), collapse = " + ")
  form <- as.formula(paste("CHG ~", rhs))
  # natural = FALSE keeps apVar on the scale of coef(modelStruct), so emmeans can
  # use its analytic Satterthwaite method (natural = TRUE makes it fall back to a
  # simulation-based approximation). minAbsParApVar = 1: nlme's numerical Hessian
  # (apVar) steps each parameter by max(|par|, minAbsParApVar) * 6e-6; with the
  # default 0.05 a parameter near zero gets a step near 3e-7 and apVar, hence the
  # df, comes out wrong by several per cent (kept below as df_default_apvar).
  # opt = "optim" with msTol = 1e-12 converges the REML fit to ~1e-9 in logLik
  # (nlminb stops near 1e-7); for ar1 optim steps outside (-1, 1), nlminb is fine.
  fit_with <- function(min_abs) {
    ctl <- mmrm_control(covariance, min_abs)
    # the formula is spliced into the call: emmeans re-evaluates call$model
    switch(covariance,
      unstructured = eval(bquote(gls(.(form), data = d, correlation = corSymm(form = ~ VIS | USUBJID),
                         weights = varIdent(form = ~ 1 | fDAY), method = "REML", control = ctl))),
      cs = eval(bquote(gls(.(form), data = d, correlation = corCompSymm(form = ~ VIS | USUBJID),
                           method = "REML", control = ctl))),
      ar1 = eval(bquote(gls(.(form), data = d, correlation = corAR1(form = ~ VIS | USUBJID),
                            method = "REML", control = ctl))))
  }
  fit <- fit_with(1)
  default_df <- summary(contrast(emmeans(fit_with(0.05), ~ ARM | fDAY, mode = "satterthwaite", data = d),
                                 method = "trt.vs.ctrl", ref = 1, adjust = "none"))$df
  emm <- emmeans(fit, ~ ARM | fDAY, mode = "satterthwaite", data = d)
  con <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1, adjust = "none"), infer = TRUE))
  lsm <- as.data.frame(summary(emm))
  V <- getVarCov(fit, individual = d$USUBJID[d$VIS == 4][1])   # a subject seen on every day
  list(case = name, data = "repeated", covariance = covariance, covariates = covariates,
       formula = deparse(form), n_obs = nrow(d), logLik = num(logLik(fit)),
       coefficients = as.list(coef(fit)), se = as.list(sqrt(diag(vcov(fit)))),
       sigma_matrix = unname(lapply(seq_len(nrow(V)), function(i) num(V[i, ]))),
       contrasts = lapply(seq_len(nrow(con)), function(i) list(
         arm = sub("^\\((.*)\\)$", "\\1", sub(" - standard$", "", as.character(con$contrast[i]))), day = as.numeric(as.character(con$fDAY[i])),
         estimate = con$estimate[i], se = con$SE[i], df = con$df[i], ci = c(con$lower.CL[i], con$upper.CL[i]),
         t = con$t.ratio[i], p_value = con$p.value[i], df_default_apvar = default_df[i])),
       lsmeans = lapply(seq_len(nrow(lsm)), function(i) list(
         arm = as.character(lsm$ARM[i]), day = as.numeric(as.character(lsm$fDAY[i])),
         estimate = lsm$emmean[i], se = lsm$SE[i], df = lsm$df[i])))
}
mmrm <- list(mmrm_case("unstructured", "unstructured"),
             mmrm_case("unstructured_covariates", "unstructured", c("AGE", "SEX")),
             mmrm_case("cs", "cs"),
             mmrm_case("ar1", "ar1"))

# ---------------------------------------------------------------- uniroot
uniroot_cases <- list(
  list(case = "sqrt2", lower = 0, upper = 2, tol = .Machine$double.eps^0.25,
       root = uniroot(function(x) x^2 - 2, c(0, 2))$root),
  list(case = "cos_fixed_point", lower = 0, upper = 1, tol = 1e-10,
       root = uniroot(function(x) cos(x) - x, c(0, 1), tol = 1e-10)$root),
  list(case = "step", lower = -3, upper = 5, tol = 1e-4,
       root = uniroot(function(x) floor(x) - 0.5, c(-3, 5), tol = 1e-4)$root))

# ---------------------------------------------------------------- write
pkgs <- c("stats", "nlme", "ordinal", "emmeans", "jsonlite")
doc <- list(
  generated_by = "tests/reference/compare.R -- generated, do not edit",
  R = R.version.string,
  packages = setNames(lapply(pkgs, function(p) as.character(packageVersion(p))), pkgs),
  welch = welch, paired_t = paired_t, ancova = ancova, wilcoxon = wilcoxon,
  signed_rank = signed_rank, binary = binary, binom = binom, p_adjust = p_adjust,
  ordinal_po = ordinal_po, mmrm = mmrm, uniroot = uniroot_cases)
write_json(doc, file.path(out_dir, "compare.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE, na = "string", null = "null")
writeLines(c("Generated by tests/reference/compare.R -- do not edit.",
             paste0("Rscript tests/reference/compare/compare.R (", R.version.string, "; ",
                    paste(pkgs, sapply(pkgs, function(p) as.character(packageVersion(p))), collapse = ", "), ")"),
             "writes the CSV data sets here and the R results in compare.json."),
           file.path(out_dir, "README.txt"))
cat("wrote", file.path(out_dir, "compare.json"), "\n")
