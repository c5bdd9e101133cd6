# Writes adsl.sas7bdat, a small ADaM-style adsl for the sas7bdat reader test
# (tests/trial/test_adam_io.py). Python has no sas7bdat writer (pyreadstat reads only);
# haven::write_sas writes one. Run: Rscript make_adsl.R  (do not edit adsl.sas7bdat)
library(haven)
adsl <- data.frame(
  USUBJID = c("S01", "S02", "S03"),
  TRT01P = c("control", "MSC", "MSC"),
  SITEID = c("01", "02", "01"),
  AGE = c(54, 71, 63),
  RANDDT = as.Date(c("2024-03-01", "2024-03-05", "2024-03-09")),
  DTHDT = as.Date(c(NA, "2024-03-14", NA)),
  LSTALVDT = as.Date(c("2024-03-28", "2024-03-14", "2024-03-20")),
  stringsAsFactors = FALSE)
write_sas(adsl, "adsl.sas7bdat")
cat(R.version.string, "haven", as.character(packageVersion("haven")), "\n")
