# Reference outputs of the comparison and model methods on the five synthetic trials.
#
# Run from the repository root, after the Python script that writes the inputs:
#   python tests/reference/synthetic/synthetic_inputs.py   (-> tests/reference/synthetic/data/*.csv)
#   Rscript tests/reference/synthetic/synthetic.R          (-> tests/reference/synthetic/synthetic.json)
# Each CSV is the `data` of one AnalysisInput exactly as mscstats.pipeline builds it
# (index.csv gives its method, arms, response column, transform and target day).
# The R calls are those of tests/reference/compare/compare.R; the tests never need R.
suppressPackageStartupMessages({
  library(jsonlite); library(nlme); library(ordinal); library(emmeans)
})
source(file.path("tests", "reference", "helpers.R"))   # num, htest, newcombe, katz, brant_glm
in_dir <- file.path("tests", "reference", "synthetic", "data")
index <- read.csv(file.path(in_dir, "index.csv"), stringsAsFactors = FALSE,
                  na.strings = "", colClasses = c(transform = "character"))

values_of <- function(d, col, arm) { v <- d[[col]][d$ARM == arm]; v[!is.na(v)] }
summary_of <- function(d, col, arm) {
  v <- values_of(d, col, arm)
  q <- quantile(v, c(0.25, 0.5, 0.75), type = 7, names = FALSE)
  list(n = length(v), n_missing = sum(d$ARM == arm & is.na(d[[col]])), mean = mean(v),
       sd = sd(v), median = q[2], q1 = q[1], q3 = q[3], min = min(v), max = max(v))
}
# log endpoints: estimates and CI bounds are exp of the log-scale ones
on_scale <- function(log, estimate, ci) {
  if (log) list(estimate = exp(estimate), ci = exp(ci)) else list(estimate = estimate, ci = ci)
}

# ---------------------------------------------------------------- methods
# Each returns list(comparisons = ..., tests = ..., by_arm = ..., r_call = ...).

r_welch <- function(d, a) {
  comparisons <- lapply(a$arms[-1], function(arm) {
    h <- t.test(values_of(d, a$response, arm), values_of(d, a$response, a$ref), var.equal = FALSE,
                conf.level = a$level)
    diff <- num(h$estimate[1] - h$estimate[2])
    c(list(arm = arm, reference = a$ref,
           estimand = if (a$log) "geometric_mean_ratio" else "mean_difference",
           log_estimate = diff, log_ci = num(h$conf.int)),
      on_scale(a$log, diff, num(h$conf.int)),
      list(p_value = num(h$p.value), statistic = num(h$statistic), df = num(h$parameter),
           se = num(h$stderr)))
  })
  by_arm <- setNames(lapply(a$arms, function(arm) summary_of(d, a$response, arm)), a$arms)
  list(comparisons = comparisons, by_arm = by_arm,
       r_call = "t.test(treated, reference, var.equal = FALSE)")
}

r_ancova <- function(d, a) {
  by_arm <- setNames(lapply(a$arms, function(arm) summary_of(d, a$response, arm)), a$arms)
  d$ARM <- factor(d$ARM, levels = a$arms)
  form <- as.formula(paste(a$response, "~ ARM + BASE"))
  fit <- lm(form, data = d)                              # na.omit: rows missing CHG or BASE dropped
  co <- summary(fit)$coefficients; ci <- confint(fit, level = a$level)
  comparisons <- lapply(a$arms[-1], function(arm) {
    r <- paste0("ARM", arm)
    c(list(arm = arm, reference = a$ref,
           estimand = if (a$log) "geometric_mean_ratio" else "mean_difference",
           log_estimate = num(co[r, 1]), log_ci = num(ci[r, ])),
      on_scale(a$log, num(co[r, 1]), num(ci[r, ])),
      list(p_value = num(co[r, 4]), statistic = num(co[r, 3]), df = fit$df.residual,
           se = num(co[r, 2])))
  })
  list(comparisons = comparisons, by_arm = by_arm, n = nobs(fit),
       r_call = paste0("lm(", deparse(form), "), treatment contrasts vs ", a$ref, "; confint"))
}

r_wilcoxon <- function(d, a) {
  comparisons <- lapply(a$arms[-1], function(arm) {
    # exact = NULL (R's default): exact when both arms < 50 and no ties, else normal with
    # continuity correction -- DESIGN.md's rule
    h <- suppressWarnings(wilcox.test(values_of(d, a$response, arm), values_of(d, a$response, a$ref),
                                      conf.int = TRUE, conf.level = a$level))
    list(arm = arm, reference = a$ref, estimand = "hodges_lehmann_shift",
         estimate = num(h$estimate), ci = num(h$conf.int), p_value = num(h$p.value),
         statistic = num(h$statistic), exact = grepl("exact", h$method), method = h$method)
  })
  by_arm <- setNames(lapply(a$arms, function(arm) summary_of(d, a$response, arm)), a$arms)
  list(comparisons = comparisons, by_arm = by_arm, r_call = "wilcox.test(treated, reference, conf.int = TRUE)")
}

r_paired <- function(d, a) {
  arm <- a$arms[1]
  chg <- values_of(d, a$response, arm)          # CHG = AVAL - BASE, as the runner analyses it
  h <- t.test(chg, conf.level = a$level)
  w <- suppressWarnings(wilcox.test(chg, conf.int = TRUE, conf.level = a$level))
  mean <- c(list(arm = arm, reference = NULL,
                 estimand = if (a$log) "geometric_mean_ratio" else "mean_change",
                 log_estimate = num(h$estimate), log_ci = num(h$conf.int)),
            on_scale(a$log, num(h$estimate), num(h$conf.int)),
            list(p_value = num(h$p.value), statistic = num(h$statistic), df = num(h$parameter),
                 se = num(h$stderr)))
  median <- list(arm = arm, reference = NULL, estimand = "median_change", estimate = num(w$estimate),
                 ci = num(w$conf.int), p_value = num(w$p.value), statistic = num(w$statistic),
                 exact = grepl("exact", w$method), method = w$method)
  list(comparisons = list(mean, median), by_arm = setNames(list(summary_of(d, a$response, arm)), arm),
       r_call = "t.test(CHG) (= t.test(AVAL, BASE, paired = TRUE)); wilcox.test(CHG, conf.int = TRUE)")
}

r_binary <- function(d, a) {
  counts <- lapply(setNames(a$arms, a$arms), function(arm) {
    v <- values_of(d, a$response, arm)
    list(n = length(v), events = sum(v), n_missing = sum(d$ARM == arm & is.na(d[[a$response]])))
  })
  by_arm <- lapply(counts, function(k) {
    h <- binom.test(k$events, k$n, conf.level = a$level)
    c(k, list(proportion = num(h$estimate), ci = num(h$conf.int)))
  })
  if (length(a$arms) == 1) {
    arm <- a$arms[1]
    return(list(comparisons = list(list(arm = arm, reference = NULL, estimand = "proportion",
                                        estimate = by_arm[[arm]]$proportion, ci = by_arm[[arm]]$ci,
                                        p_value = NULL)),
                by_arm = by_arm, r_call = "binom.test(events, n) (Clopper-Pearson)"))
  }
  comparisons <- list()
  for (arm in a$arms[-1]) {
    x1 <- counts[[arm]]$events; n1 <- counts[[arm]]$n
    x2 <- counts[[a$ref]]$events; n2 <- counts[[a$ref]]$n
    m <- matrix(c(x1, n1 - x1, x2, n2 - x2), 2, byrow = TRUE)   # rows: treated, reference
    f <- fisher.test(m, conf.level = a$level)
    p <- num(f$p.value)
    nc <- newcombe(x1, n1, x2, n2, a$level)
    # Katz as in compare.R: 0.5 added to every cell when exactly one arm has no events;
    # none in both arms, or all in both, has no risk ratio CI (R: NaN or (1, 1))
    rr <- if (x1 + x2 == 0 || (x1 == n1 && x2 == n2)) NULL
          else if (x1 > 0 && x2 > 0) katz(x1, n1, x2, n2, a$level)
          else katz(x1 + 0.5, n1 + 1, x2 + 0.5, n2 + 1, a$level)
    # no odds ratio when no subject (or every subject) had the event: fisher.test's 0 (0, Inf)
    or <- if ((x1 + x2) %in% c(0, n1 + n2)) NULL else list(estimate = num(f$estimate), ci = num(f$conf.int))
    cmp <- function(estimand, r) list(arm = arm, reference = a$ref, estimand = estimand,
                                      estimate = if (is.null(r)) NULL else r$estimate,
                                      ci = if (is.null(r)) NULL else r$ci, p_value = p)
    comparisons <- c(comparisons, list(cmp("risk_difference", nc), cmp("risk_ratio", rr),
                                       cmp("odds_ratio", or)))
  }
  list(comparisons = comparisons, by_arm = by_arm,
       r_call = paste("fisher.test(2x2) p and conditional-MLE odds ratio with exact CI;",
                      "Newcombe method 10 from prop.test(correct = FALSE) Wilson intervals;",
                      "Katz log risk ratio; binom.test per arm"))
}

r_mmrm <- function(d, a) {
  target <- d[d$DAY == a$target_day, ]              # by-arm summaries: the target day's rows
  d <- d[!is.na(d$CHG) & !is.na(d$BASE), ]
  # Rows grouped by subject, visits in order (as compare.R's data are). The inputs list
  # rows by DAY then USUBJID; gls fits them the same (same logLik, estimates and SEs) but
  # emmeans' Satterthwaite df are then wrong: 16.5 on day 3, where all 60 subjects are
  # seen and 57 (n - 3) is the complete-data answer, and 70.6 instead of 56.4 on day 7.
  # Sorted, emmeans agrees with mscstats (which sorts by USUBJID, DAY) to ~1e-4.
  d_unsorted <- d
  d <- d[order(d$USUBJID, d$DAY), ]
  days <- sort(unique(d$DAY))
  d$ARM <- factor(d$ARM, levels = a$arms)
  d$fDAY <- factor(d$DAY, levels = days)
  d$VIS <- match(d$DAY, days)
  form <- CHG ~ ARM * fDAY + BASE * fDAY
  # the formula is spliced into the call: emmeans re-evaluates call$model
  fit <- eval(bquote(gls(.(form), data = d, correlation = corSymm(form = ~ VIS | USUBJID),
                         weights = varIdent(form = ~ 1 | fDAY), method = "REML",
                         control = mmrm_control("unstructured"))))
  emm <- emmeans(fit, ~ ARM | fDAY, mode = "satterthwaite", data = d)
  con <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1, adjust = "none"),
                               infer = TRUE, level = a$level))
  con <- con[as.numeric(as.character(con$fDAY)) == a$target_day, ]
  df_unsorted <- local({   # the df emmeans gives on the rows in input order, for the record
    d <- d_unsorted; d$ARM <- factor(d$ARM, levels = a$arms); d$fDAY <- factor(d$DAY, levels = days)
    d$VIS <- match(d$DAY, days)
    f <- eval(bquote(gls(.(form), data = d, correlation = corSymm(form = ~ VIS | USUBJID),
                         weights = varIdent(form = ~ 1 | fDAY), method = "REML",
                         control = mmrm_control("unstructured"))))
    k <- as.data.frame(summary(contrast(emmeans(f, ~ ARM | fDAY, mode = "satterthwaite", data = d),
                                        method = "trt.vs.ctrl", ref = 1, adjust = "none")))
    k$df[as.numeric(as.character(k$fDAY)) == a$target_day]
  })
  lsm <- as.data.frame(summary(emm))
  lsm <- lsm[as.numeric(as.character(lsm$fDAY)) == a$target_day, ]
  comparisons <- lapply(seq_len(nrow(con)), function(i) list(
    arm = a$arms[-1][i], reference = a$ref, estimand = "mean_difference", contrast = as.character(con$contrast[i]),
    estimate = con$estimate[i], ci = c(con$lower.CL[i], con$upper.CL[i]), p_value = con$p.value[i],
    statistic = con$t.ratio[i], df = con$df[i], se = con$SE[i], df_rows_in_input_order = df_unsorted[i]))
  by_arm <- setNames(lapply(a$arms, function(arm) {
    i <- which(as.character(lsm$ARM) == arm)
    c(summary_of(target, "CHG", arm),
      list(lsmean = lsm$emmean[i], lsmean_se = lsm$SE[i], lsmean_df = lsm$df[i]))
  }), a$arms)
  list(comparisons = comparisons, by_arm = by_arm, days = days, logLik = num(logLik(fit)),
       r_call = paste("gls(CHG ~ ARM * fDAY + BASE * fDAY, corSymm(~ VIS | USUBJID),",
                      "varIdent(~ 1 | fDAY), REML) + emmeans(~ ARM | fDAY, mode = 'satterthwaite'),",
                      "trt.vs.ctrl at the target day"))
}

r_ordinal_po <- function(d, a) {
  d <- d[!is.na(d[[a$response]]), ]
  d$AVAL <- d[[a$response]]
  d$ARM <- factor(d$ARM, levels = a$arms)
  fit <- clm(ordered(AVAL) ~ ARM, data = d, link = "logit")
  co <- coef(summary(fit))
  z <- qnorm(1 - (1 - a$level) / 2)
  comparisons <- lapply(a$arms[-1], function(arm) {
    r <- paste0("ARM", arm); b <- co[r, 1]; se <- co[r, 2]
    list(arm = arm, reference = a$ref, estimand = "common_odds_ratio", beta = num(b), se = num(se),
         estimate = num(exp(-b)), ci = num(exp(-b + c(-1, 1) * z * se)), p_value = num(co[r, 4]))
  })
  cats <- sort(unique(d$AVAL))
  by_arm <- setNames(lapply(a$arms, function(arm) {
    v <- values_of(d, "AVAL", arm)
    list(n = length(v), median = median(v),
         distribution = setNames(as.list(sapply(cats, function(k) sum(v == k))), as.character(cats)))
  }), a$arms)
  list(comparisons = comparisons, by_arm = by_arm, thresholds = num(fit$alpha),
       logLik = num(logLik(fit)), brant = brant_glm(d, a$arms),
       r_call = "exp(-coef(clm(ordered(AVAL) ~ ARM))) with Wald CI and p; Brant test by binary glm logits")
}

# ---------------------------------------------------------------- run
methods <- list(welch = r_welch, ancova = r_ancova, wilcoxon = r_wilcoxon, paired = r_paired,
                binary = r_binary, mmrm = r_mmrm, ordinal_po = r_ordinal_po)
analyses <- lapply(seq_len(nrow(index)), function(i) {
  row <- index[i, ]
  d <- read.csv(file.path(in_dir, row$file), stringsAsFactors = FALSE, na.strings = "")
  n_rows <- nrow(d)
  arms <- strsplit(row$arms, "|", fixed = TRUE)[[1]]
  # a repeated endpoint (several rows per subject, one per DAY) is analysed at its
  # target day only, except by mmrm, which uses every day (mscstats/analysis/compare.py)
  if (row$method != "mmrm" && anyDuplicated(d$USUBJID)) d <- d[d$DAY == row$target_day, ]
  a <- list(arms = arms, ref = arms[1], response = row$response, log = identical(row$transform, "log"),
            level = 1 - row$alpha, target_day = row$target_day)
  r <- methods[[row$method]](d, a)
  c(list(design = row$design, analysis = row$analysis, file = row$file, method = row$method,
         endpoint = row$endpoint, arms = I(arms), response = row$response,
         transform = if (a$log) "log" else NULL, ci_level = a$level, n_rows = n_rows), r)
})

pkgs <- c("stats", "nlme", "ordinal", "emmeans", "jsonlite")
doc <- list(
  generated_by = "tests/reference/synthetic.R -- generated, do not edit",
  R = R.version.string,
  packages = setNames(lapply(pkgs, function(p) as.character(packageVersion(p))), pkgs),
  analyses = analyses)
write_json(doc, file.path("tests", "reference", "synthetic", "synthetic.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE, na = "string", null = "null")
cat("wrote tests/reference/synthetic/synthetic.json:", length(analyses), "analyses\n")
