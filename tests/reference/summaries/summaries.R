# Reference for mscstats/summaries (baseline, safety) on the five committed synthetic
# trials: base R only. Writes tests/reference/summaries/summaries.json.
#   Rscript tests/reference/summaries/summaries.R     (from the repository root)
library(jsonlite)
source("tests/reference/helpers.R")

designs <- list("nebulized-exosomes" = "mITT", "prevent-progression" = "ITT",
                "refractory-hypoxia" = "ITT", "single-arm-bm-msc" = "ITT",
                "three-arm-paxlovid" = "ITT")
arms_of <- list("nebulized-exosomes" = c("sham", "exosome"),
                "prevent-progression" = c("placebo", "UC-MSC"),
                "refractory-hypoxia" = c("control", "UC-MSC"),
                "single-arm-bm-msc" = c("BM-MSC"),
                "three-arm-paxlovid" = c("standard", "Paxlovid", "UC-MSC"))

continuous <- function(x) {
  m <- sum(is.na(x)); x <- x[!is.na(x)]
  q <- quantile(x, c(0.25, 0.5, 0.75), type = 7, names = FALSE)
  list(n = length(x), missing = m, mean = mean(x), sd = sd(x), median = q[2], q1 = q[1],
       q3 = q[3], min = min(x), max = max(x))
}

one_design <- function(key) {
  dir <- file.path("data/synthetic", key)
  adsl <- read.csv(file.path(dir, "adsl.csv"), stringsAsFactors = FALSE)
  adae <- read.csv(file.path(dir, "adae.csv"), stringsAsFactors = FALSE)
  ex <- read.csv(file.path(dir, "ex.csv"), stringsAsFactors = FALSE)
  arms <- arms_of[[key]]
  pop <- designs[[key]]
  # mITT: ITT and a dose (every arm of these designs has ex rows)
  keep <- adsl$ITTFL == "Y" & (pop == "ITT" | adsl$USUBJID %in% ex$USUBJID)
  base <- adsl[keep, ]
  baseline <- list()
  for (v in c("AGE", "BMI")) {
    per <- lapply(arms, function(a) continuous(base[[v]][base$ARM == a])); names(per) <- arms
    baseline[[v]] <- list(by_arm = per, total = continuous(base[[v]]))
  }
  sex <- lapply(arms, function(a) as.list(table(factor(base$SEX[base$ARM == a], c("F", "M")))))
  names(sex) <- arms
  baseline$SEX <- list(by_arm = sex, total = as.list(table(factor(base$SEX, c("F", "M")))))

  safety <- adsl[adsl$SAFFL == "Y", ]
  n <- sapply(arms, function(a) sum(safety$ARM == a))
  te <- merge(adae[adae$AESTDY >= 1, ], safety[, c("USUBJID", "ARM", "DTHDY")], by = "USUBJID")
  te$FATAL <- (!is.na(te$AETOXGR) & te$AETOXGR == 5) | toupper(te$AEOUT) == "FATAL" |
    (!is.na(te$DTHDY) & te$AESTDY == te$DTHDY)
  subjects <- function(d) sapply(arms, function(a) length(unique(d$USUBJID[d$ARM == a])))
  events <- function(d) sapply(arms, function(a) sum(d$ARM == a))
  terms <- unique(te[, c("AEBODSYS", "AEDECOD")])
  by_term <- lapply(seq_len(nrow(terms)), function(i) {
    d <- te[te$AEBODSYS == terms$AEBODSYS[i] & te$AEDECOD == terms$AEDECOD[i], ]
    list(soc = terms$AEBODSYS[i], term = terms$AEDECOD[i], subjects = as.list(subjects(d)),
         events = as.list(events(d)))
  })
  worst <- aggregate(AETOXGR ~ USUBJID + ARM, te, max)
  grades <- lapply(arms, function(a) as.list(table(factor(worst$AETOXGR[worst$ARM == a], 1:5))))
  names(grades) <- arms
  any_ae <- subjects(te)
  rd <- if (length(arms) > 1) lapply(arms[-1], function(a)
    newcombe(any_ae[[a]], n[[a]], any_ae[[arms[1]]], n[[arms[1]]], 0.95)) else list()
  if (length(rd)) names(rd) <- arms[-1]
  list(population = pop, baseline = baseline,
       safety = list(n = as.list(n), any = as.list(any_ae), any_events = as.list(events(te)),
                     fatal = as.list(subjects(te[te$FATAL, ])), by_term = by_term,
                     max_grade = grades, any_rd = rd))
}

out <- list(generated_by = "tests/reference/summaries/summaries.R -- generated, do not edit",
            R = R.version.string, packages = list(jsonlite = as.character(packageVersion("jsonlite"))),
            calls = list(continuous = "length, mean, sd, quantile(type = 7), min, max",
                         fatal = "AETOXGR == 5 | toupper(AEOUT) == 'FATAL' | AESTDY == DTHDY",
                         rd = "newcombe() of helpers.R (Wilson intervals from prop.test(correct = FALSE))"),
            cases = lapply(setNames(names(designs), names(designs)), one_design))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "tests/reference/summaries/summaries.json")
