# Reference outputs at the numerical edges: what R gives where an
# estimate reaches a boundary, for tests/analysis/test_numerical_edges.py.
#
# Run from the repository root:  Rscript tests/reference/edges/edges.R
# Writes tests/reference/edges/edges.json. The data of each case are tiny and stored
# in the JSON beside the result (no CSV), with the R call. The tests never need R.
suppressPackageStartupMessages({ library(survival); library(cmprsk); library(jsonlite) })
source(file.path("tests", "reference", "helpers.R"))   # num, brant_glm

level <- 0.95
z <- qnorm(1 - (1 - level) / 2)
warned <- function(expr) {
  # the value of expr and the warnings it raised (coxph's "may be infinite")
  messages <- character()
  value <- withCallingHandlers(expr, warning = function(w) {
    messages <<- c(messages, conditionMessage(w)); invokeRestart("muffleWarning") })
  list(value = value, warnings = messages)
}
cases <- list()

# ---------------------------------------------------------------- coxph
cox_case <- function(name, d, formula, call) {
  got <- warned(coxph(formula, data = d))
  fit <- got$value
  s <- summary(fit)
  cases[[name]] <<- list(
    call = call, data = d, coef = num(coef(fit)), se = num(sqrt(diag(fit$var))),
    names = names(coef(fit)), loglik = num(fit$loglik), iterations = fit$iter,
    score = num(s$sctest["test"]), likelihood_ratio = num(s$logtest["test"]),
    df = num(s$logtest["df"]), warnings = got$warnings)
}
# every event in one arm (n = 6): the coefficient "may be infinite"
d <- data.frame(AVAL = c(3, 5, 8, 4, 6, 9), CNSR = c(0, 0, 0, 1, 1, 1),
                ARM = c("control", "control", "control", "UC-MSC", "UC-MSC", "UC-MSC"))
d$ARM <- factor(d$ARM, levels = c("control", "UC-MSC"))
cox_case("cox_events_in_one_arm", d, Surv(AVAL, CNSR == 0) ~ ARM,
         "coxph(Surv(AVAL, CNSR == 0) ~ ARM)")
# three arms and AGE on six subjects: a separated, monotone likelihood
d <- data.frame(AVAL = c(28, 19, 13, 20, 28, 28), CNSR = c(1, 0, 0, 0, 1, 1),
                AGE = c(66, 65, 45, 69, 62, 66),
                ARM = c("standard", "standard", "Paxlovid", "Paxlovid", "UC-MSC", "UC-MSC"))
d$ARM <- factor(d$ARM, levels = c("standard", "Paxlovid", "UC-MSC"))
cox_case("cox_three_arms_separated", d, Surv(AVAL, CNSR == 0) ~ ARM + AGE,
         "coxph(Surv(AVAL, CNSR == 0) ~ ARM + AGE)")

# ---------------------------------------------------------------- cuminc
cuminc_case <- function(name, d, days) {
  ci <- cuminc(d$AVAL, d$EVNTCD, d$ARM)
  tp <- timepoints(ci, days)
  groups <- sub(" 1$", "", rownames(tp$est))
  cases[[name]] <<- list(
    call = sprintf("timepoints(cuminc(AVAL, EVNTCD, ARM), c(%s))", paste(days, collapse = ", ")),
    data = d, days = days, groups = groups,
    estimate = lapply(seq_along(groups), function(i) num(tp$est[i, ])),
    variance = lapply(seq_along(groups), function(i) num(tp$var[i, ])),
    gray = if (is.null(ci$Tests)) NULL else list(statistic = num(ci$Tests[1, "stat"]),
                                                  p_value = num(ci$Tests[1, "pv"]),
                                                  df = num(ci$Tests[1, "df"])))
}
# every subject of arm A has the event on ten distinct days: 0.1 summed ten times,
# the estimate ends at 0.9999999999999999 (the log-log overflow)
d <- data.frame(AVAL = c(1:10, c(2, 4, 6, 8, 12, 14, 16, 18, 20, 22)),
                EVNTCD = c(rep(1, 10), c(1, 2, 0, 1, 0, 1, 2, 0, 1, 0)),
                ARM = rep(c("A", "B"), each = 10))
cuminc_case("cuminc_every_subject_has_the_event", d, c(5, 10, 22))
# four subjects, every one with the event: the pooled incidence reaches 1 while one
# group still has a subject at risk (Gray's test: the "SVD did not converge")
d <- data.frame(AVAL = c(10, 4, 17, 11), EVNTCD = c(1, 1, 1, 1),
                ARM = c("control", "control", "UC-MSC", "UC-MSC"))
cuminc_case("gray_pooled_incidence_reaches_1", d, c(5, 10, 17))

# ---------------------------------------------------------------- crr
# two subjects, both with the event on the same day (n = 2): se 0
d <- data.frame(AVAL = c(5, 5), EVNTCD = c(1, 1), ARM = c("control", "UC-MSC"))
fit <- crr(d$AVAL, d$EVNTCD, cbind(ARMUC = as.numeric(d$ARM == "UC-MSC")))
cases$crr_se_zero <- list(call = "crr(AVAL, EVNTCD, cbind(ARM == 'UC-MSC'))", data = d,
                          coef = num(fit$coef), se = num(sqrt(diag(fit$var))),
                          z = num(fit$coef / sqrt(diag(fit$var))), converged = fit$converged)

# ---------------------------------------------------------------- survfit rmean
rmst_case <- function(name, d, tau) {
  fit <- survfit(Surv(AVAL, CNSR == 0) ~ ARM, data = d)
  tab <- summary(fit, rmean = tau)$table
  cases[[name]] <<- list(call = sprintf("summary(survfit(Surv(AVAL, CNSR == 0) ~ ARM), rmean = %g)$table", tau),
                         data = d, tau = tau, arms = sub("ARM=", "", rownames(tab)),
                         rmean = num(tab[, "rmean"]), se = num(tab[, "se(rmean)"]))
}
# no event before tau in either arm: both SE 0
d <- data.frame(AVAL = c(10, 30, 30, 20, 30), CNSR = c(1, 1, 1, 1, 1),
                ARM = c("control", "control", "control", "UC-MSC", "UC-MSC"))
rmst_case("rmst_no_event_before_tau", d, 28)
# every subject of one arm dies on day 5, nobody of the other before tau: SE 0, yet the
# difference (-23) is exact
d <- data.frame(AVAL = c(5, 5, 5, 30, 30, 30), CNSR = c(0, 0, 0, 1, 1, 1),
                ARM = c("control", "control", "control", "UC-MSC", "UC-MSC", "UC-MSC"))
rmst_case("rmst_se_zero_with_a_difference", d, 28)

# ---------------------------------------------------------------- Brant
# WHO day 14 of the synthetic three-arm-paxlovid trial (data/synthetic, as derived):
# category 8 is seen once, in one arm. The cuts y > 6 and y > 8 then split the two
# other arms identically, and the covariance of the cut differences is singular:
# R's solve still returns a number (16.22 on 8 df), made of a zero-variance direction.
counts <- rbind(Paxlovid = c(2, 7, 14, 4, 0, 2), `UC-MSC` = c(12, 5, 11, 0, 0, 1),
                standard = c(7, 1, 14, 3, 1, 4))
categories <- c(2, 4, 5, 6, 8, 10)
d <- do.call(rbind, lapply(rownames(counts), function(a)
  data.frame(ARM = a, AVAL = rep(categories, counts[a, ]))))
d$ARM <- factor(d$ARM, levels = c("standard", "Paxlovid", "UC-MSC"))
b <- brant_glm(d, levels(d$ARM))
X <- model.matrix(~ ARM, d); p <- ncol(X) - 1
cats <- sort(unique(d$AVAL)); K <- length(cats) - 1
fits <- lapply(cats[-(K + 1)], function(cj) glm(I(d$AVAL > cj) ~ X - 1, family = binomial))
pis <- sapply(fits, fitted)
info <- function(w) crossprod(X * w, X)
V <- matrix(0, K * p, K * p)
for (j in 1:K) for (l in j:K) {
  Vjl <- solve(info(pis[, j] * (1 - pis[, j]))) %*% info(pis[, l] - pis[, j] * pis[, l]) %*%
         solve(info(pis[, l] * (1 - pis[, l])))
  V[(j - 1) * p + 1:p, (l - 1) * p + 1:p] <- Vjl[-1, -1]
  V[(l - 1) * p + 1:p, (j - 1) * p + 1:p] <- t(Vjl[-1, -1])
}
D <- matrix(0, (K - 1) * p, K * p)
for (j in 1:(K - 1)) { D[(j - 1) * p + 1:p, 1:p] <- diag(p); D[(j - 1) * p + 1:p, j * p + 1:p] <- -diag(p) }
ev <- eigen(D %*% V %*% t(D), symmetric = TRUE, only.values = TRUE)$values
cases$brant_category_seen_once <- list(
  call = "brant_glm (helpers.R) and eigen(D V D') on the counts by arm and WHO category",
  counts = lapply(rownames(counts), function(a) list(arm = a, categories = categories, n = num(counts[a, ]))),
  arms = levels(d$ARM), statistic = b$statistic, df = b$df,
  eigenvalues = num(ev), smallest_relative_eigenvalue = min(abs(ev)) / max(abs(ev)))

out <- list(generated_by = "tests/reference/edges.R -- generated, do not edit",
            R = R.version.string,
            packages = list(survival = as.character(packageVersion("survival")),
                            cmprsk = as.character(packageVersion("cmprsk")),
                            jsonlite = as.character(packageVersion("jsonlite"))),
            cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null",
                  dataframe = "columns"),
           file.path("tests", "reference", "edges", "edges.json"))
