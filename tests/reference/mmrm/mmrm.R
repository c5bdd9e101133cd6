# Reference outputs for the heterogeneous MMRM covariances of mscstats/analysis/cores/mmrm.py:
# "toeplitz" (heterogeneous Toeplitz, SAS TOEPH) and "ar1h" (heterogeneous AR(1), SAS ARH(1)).
#
# Run from the repository root:  Rscript tests/reference/mmrm/mmrm.R
# Reads tests/reference/compare/data/repeated.csv (60 subjects, days 3, 5, 7, 14, 28
# visits missing; written by compare.R) and writes tests/reference/mmrm/mmrm.json.
#
# nlme has no Toeplitz corStruct, but corARMA(p = T - 1) on the visit index is one: an
# AR(T - 1) process has every positive definite Toeplitz correlation on T positions
# (partial autocorrelations in (-1, 1), Durbin-Levinson), so gls(corARMA(p = T - 1),
# varIdent) maximizes the REML likelihood over heterogeneous Toeplitz covariances.
# `direct` checks that claim independently: the REML criterion written out here in R
# with the correlations rho_1..rho_{T-1} themselves as parameters, minimized by optim,
# reaches the same logLik and coefficients.
suppressPackageStartupMessages({ library(jsonlite); library(nlme); library(emmeans) })
source(file.path("tests", "reference", "helpers.R"))   # num, mmrm_control
out_dir <- file.path("tests", "reference", "mmrm")
arms3 <- c("standard", "Paxlovid", "UC-MSC")
days <- c(3, 5, 7, 14)
rep_d <- read.csv(file.path("tests", "reference", "compare", "data", "repeated.csv"),
                  stringsAsFactors = FALSE)

model_data <- function(covariates) {
  d <- rep_d[!is.na(rep_d$CHG), ]
  d$ARM <- factor(d$ARM, levels = arms3)
  d$fDAY <- factor(d$DAY, levels = days)
  d$VIS <- match(d$DAY, days)
  for (f in intersect(covariates, c("SEX", "STRATUM"))) d[[f]] <- factor(d[[f]])
  d
}

# -2 REML of y = X beta + e, e ~ N(0, Sigma) within subject, Sigma = D R D with R Toeplitz
direct_toeplitz <- function(d, form, start_sd) {
  X <- model.matrix(form, d); y <- d$CHG
  groups <- split(seq_len(nrow(d)), d$USUBJID)
  T <- length(days); p <- ncol(X)
  sigma_of <- function(par) {
    sd <- exp(par[1:T]); R <- toeplitz(c(1, par[T + 1:(T - 1)]))
    outer(sd, sd) * R
  }
  m2reml <- function(par) {
    S <- sigma_of(par)
    if (min(eigen(S, symmetric = TRUE, only.values = TRUE)$values) <= 1e-10) return(1e10)
    XtVX <- matrix(0, p, p); XtVy <- numeric(p); logdet <- 0; parts <- list()
    for (g in groups) {
      v <- d$VIS[g]; Si <- solve(S[v, v, drop = FALSE])
      logdet <- logdet + as.numeric(determinant(S[v, v, drop = FALSE])$modulus)
      XtVX <- XtVX + t(X[g, , drop = FALSE]) %*% Si %*% X[g, , drop = FALSE]
      XtVy <- XtVy + t(X[g, , drop = FALSE]) %*% Si %*% y[g]
      parts[[length(parts) + 1]] <- list(g = g, Si = Si)
    }
    beta <- solve(XtVX, XtVy)
    quad <- 0
    for (q in parts) { r <- y[q$g] - X[q$g, , drop = FALSE] %*% beta; quad <- quad + t(r) %*% q$Si %*% r }
    as.numeric(logdet + as.numeric(determinant(XtVX)$modulus) + quad + (nrow(X) - p) * log(2 * pi))
  }
  fit <- optim(c(log(start_sd), rep(0.3, T - 1)), m2reml, method = "BFGS",
               control = list(maxit = 5000, reltol = 1e-14))
  fit <- optim(fit$par, m2reml, method = "Nelder-Mead", control = list(maxit = 20000, reltol = 1e-15))
  fit <- optim(fit$par, m2reml, method = "BFGS", control = list(maxit = 5000, reltol = 1e-15))
  S <- sigma_of(fit$par)
  XtVX <- matrix(0, p, p); XtVy <- numeric(p)
  for (g in groups) {
    v <- d$VIS[g]; Si <- solve(S[v, v, drop = FALSE])
    XtVX <- XtVX + t(X[g, , drop = FALSE]) %*% Si %*% X[g, , drop = FALSE]
    XtVy <- XtVy + t(X[g, , drop = FALSE]) %*% Si %*% y[g]
  }
  list(call = "optim(BFGS, Nelder-Mead, BFGS) of -2 REML over (log sd_1..4, rho_1..3)",
       logLik = -fit$value / 2, coefficients = as.list(setNames(num(solve(XtVX, XtVy)), colnames(X))),
       sigma_matrix = unname(lapply(1:T, function(i) num(S[i, ]))))
}

mmrm_case <- function(name, covariance, covariates = character(0)) {
  d <- model_data(covariates)
  rhs <- paste(c("ARM * fDAY", "BASE * fDAY", covariates), collapse = " + ")
  form <- as.formula(paste("CHG ~", rhs))
  # as compare.R: natural = FALSE for emmeans' analytic Satterthwaite df, minAbsParApVar
  # = 1 for a usable numerical Hessian, msTol = 1e-12 for a converged logLik
  ctl <- mmrm_control("ar1", 1)     # nlminb: optim steps outside the stationary region
  corr <- switch(covariance,
    toeplitz = quote(corARMA(form = ~ VIS | USUBJID, p = 3)),
    ar1h = quote(corAR1(form = ~ VIS | USUBJID)))
  fit <- eval(bquote(gls(.(form), data = d, correlation = .(corr),
                         weights = varIdent(form = ~ 1 | fDAY), method = "REML", control = ctl)))
  emm <- emmeans(fit, ~ ARM | fDAY, mode = "satterthwaite", data = d)
  con <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1, adjust = "none"),
                               infer = TRUE))
  V <- getVarCov(fit, individual = d$USUBJID[d$VIS == 4][1])   # a subject seen on every day
  out <- list(case = name, data = "repeated", covariance = covariance, covariates = covariates,
       r_call = paste0("gls(", deparse(form), ", correlation = ", deparse(corr),
                       ", weights = varIdent(form = ~ 1 | fDAY), method = \"REML\"); ",
                       "emmeans(fit, ~ ARM | fDAY, mode = \"satterthwaite\")"),
       n_obs = nrow(d), logLik = num(logLik(fit)),
       coefficients = as.list(coef(fit)), se = as.list(sqrt(diag(vcov(fit)))),
       sigma_matrix = unname(lapply(seq_len(nrow(V)), function(i) num(V[i, ]))),
       contrasts = lapply(seq_len(nrow(con)), function(i) list(
         arm = sub("^\\((.*)\\)$", "\\1", sub(" - standard$", "", as.character(con$contrast[i]))),
         day = as.numeric(as.character(con$fDAY[i])),
         estimate = con$estimate[i], se = con$SE[i], df = con$df[i],
         ci = c(con$lower.CL[i], con$upper.CL[i]), p_value = con$p.value[i])))
  if (covariance == "toeplitz")
    out$direct <- direct_toeplitz(d, as.formula(paste("~", rhs)), sqrt(diag(V)) * 0.8)
  out
}

cases <- list(mmrm_case("toeplitz", "toeplitz"),
              mmrm_case("toeplitz_covariates", "toeplitz", c("AGE", "SEX")),
              mmrm_case("ar1h", "ar1h"),
              mmrm_case("ar1h_covariates", "ar1h", c("AGE", "SEX")))

pkgs <- c("stats", "nlme", "emmeans", "jsonlite")
doc <- list(generated_by = "tests/reference/mmrm/mmrm.R -- generated, do not edit",
            R = R.version.string,
            packages = setNames(lapply(pkgs, function(p) as.character(packageVersion(p))), pkgs),
            mmrm = cases)
write_json(doc, file.path(out_dir, "mmrm.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE, na = "string", null = "null")
cat("wrote", file.path(out_dir, "mmrm.json"), "\n")
