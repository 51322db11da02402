{
  hub = "1f64VzfjGtiZarIF/X8gqTpPSpq3AtO3Hk9JBHobQ08=";
  gateway = "/SkX9JRCt/jiRXZEV4vSIGtE++cgXD+Mzf8jWUerPGU=";
  client = "KUI/iJDpQj9l9jynkYg1mM6W9FmqE9xZdiQSBW6gpmo=";
  admin = "XVctCkyNP9K+AZY1VO4Jy+NCkgqDcaXzC6yv1gJIwjs=";
  phone = "VJwOzW7+ldsCP0bqrMyHzridAWzT+MCcVIq2q/S/JAI=";
}
