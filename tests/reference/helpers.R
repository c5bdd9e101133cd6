# Helpers shared by the R scripts of tests/reference/: JSON-friendly numbers, CSV
# round trips, htest results, Newcombe's method-10 risk difference, Katz's risk
# ratio and the Brant test. Definitions only; sourcing has no effects.

num <- function(x) unname(as.numeric(x))
# write d as <dir>/<name>.csv and read it back: R analyses the doubles Python will read
write_csv_back <- function(d, dir, name) {
  path <- file.path(dir, paste0(name, ".csv"))
  write.csv(d, path, row.names = FALSE, na = "")
  read.csv(path, stringsAsFactors = FALSE)
}
htest <- function(h) list(statistic = num(h$statistic),
                          df = if (is.null(h$parameter)) NULL else num(h$parameter),
                          p_value = num(h$p.value),
                          estimate = if (is.null(h$estimate)) NULL else num(h$estimate),
                          ci = if (is.null(h$conf.int)) NULL else num(h$conf.int),
                          ci_level = if (is.null(h$conf.int)) NULL else attr(h$conf.int, "conf.level"),
                          method = h$method)

newcombe <- function(x1, n1, x2, n2, level) {
  # Newcombe (1998) method 10 from Wilson score intervals of each proportion.
  wilson <- function(x, n) suppressWarnings(prop.test(x, n, conf.level = level, correct = FALSE))$conf.int
  w1 <- wilson(x1, n1); w2 <- wilson(x2, n2)
  p1 <- x1 / n1; p2 <- x2 / n2; d <- p1 - p2
  list(wilson1 = num(w1), wilson2 = num(w2), estimate = d,
       ci = c(d - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2), d + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2)))
}
katz <- function(x1, n1, x2, n2, level) {
  rr <- (x1 / n1) / (x2 / n2)
  se <- sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
  z <- qnorm(1 - (1 - level) / 2)
  list(estimate = rr, ci = rr * exp(c(-1, 1) * z * se))
}

brant_glm <- function(d, arms) {
  # Brant (1990): separate binary logits for each cut y > c_j, their joint
  # covariance from the fitted probabilities, and a Wald test that the arm
  # coefficients are equal across cuts.
  cats <- sort(unique(d$AVAL)); J <- length(cats)
  X <- model.matrix(~ ARM, d); p <- ncol(X) - 1
  fits <- lapply(cats[-J], function(cj) glm(I(d$AVAL > cj) ~ X - 1, family = binomial))
  pis <- sapply(fits, fitted)
  info <- function(w) crossprod(X * w, X)
  K <- J - 1
  V <- matrix(0, K * p, K * p)
  for (j in 1:K) for (l in j:K) {
    # cut l is higher, so {y > c_l} is inside {y > c_j}: Cov = pi_l - pi_j pi_l
    Vjl <- solve(info(pis[, j] * (1 - pis[, j]))) %*% info(pis[, l] - pis[, j] * pis[, l]) %*%
           solve(info(pis[, l] * (1 - pis[, l])))
    V[(j - 1) * p + 1:p, (l - 1) * p + 1:p] <- Vjl[-1, -1]
    V[(l - 1) * p + 1:p, (j - 1) * p + 1:p] <- t(Vjl[-1, -1])
  }
  beta <- as.vector(sapply(fits, function(f) coef(f)[-1]))
  D <- matrix(0, (K - 1) * p, K * p)
  for (j in 1:(K - 1)) {
    D[(j - 1) * p + 1:p, 1:p] <- diag(p)
    D[(j - 1) * p + 1:p, j * p + 1:p] <- -diag(p)
  }
  Db <- D %*% beta
  chi2 <- as.numeric(t(Db) %*% solve(D %*% V %*% t(D), Db))
  df <- (K - 1) * p
  list(statistic = chi2, df = df, p_value = pchisq(chi2, df, lower.tail = FALSE),
       cut_coefficients = unname(lapply(fits, function(f) num(coef(f)[-1]))))
}

# nlme::gls control for the MMRM references (see compare.R's mmrm_case for why):
# natural = FALSE for emmeans' analytic Satterthwaite df, minAbsParApVar = 1 for
# a sound numerical Hessian, optim with msTol = 1e-12 for a converged REML fit.
mmrm_control <- function(covariance, min_abs = 1)
  glsControl(natural = FALSE, opt = if (covariance == "ar1") "nlminb" else "optim", msTol = 1e-12,
             tolerance = 1e-10, maxIter = 200, msMaxIter = 500, minAbsParApVar = min_abs)
