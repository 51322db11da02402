# The dynamic DNS renderer (builtins only): `hearth.ddns` -> the attributes
# of nixpkgs' `services.ddclient` (without `enable` and `passwordFile`, which
# the module sets from agenix). Option names and types as in
# nixos/modules/services/networking/ddclient.nix (nixpkgs, read at
# 013635633ffe, 2025; unchanged in 26.05 as far as the stored copies show):
# protocol, server, zone, username (str), domains (listOf str), interval
# (str, systemd time span), usev4 (str), ssl (bool). ddclient.conf is
# `key=value` lines, so no value may hold a line break, `#` or `\`.
let
  inherit (builtins)
    all
    any
    concatStringsSep
    isBool
    isList
    isString
    match
    ;

  bad = msg: throw "hearth.ddns: ${msg}";
  confSafe = s: isString s && match ".*[[:cntrl:]#\\\\].*" s == null;
  domain = s: isString s && match "(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*" s != null;
in
{
  settings =
    cfg:
    if !(isString cfg.protocol && match "[a-z0-9_-]+" cfg.protocol != null) then
      bad "protocol `${toString cfg.protocol}` is not a ddclient protocol name"
    else if !(isList cfg.domains && cfg.domains != [ ] && all domain cfg.domains) then
      bad "domains must be a non-empty list of DNS names"
    else if !(cfg.zone == "" || domain cfg.zone) then
      bad "zone must be empty or a DNS name"
    else if !(cfg.server == "" || domain cfg.server) then
      bad "server must be empty or a hostname"
    else if any (v: !confSafe v) [
      cfg.username
      cfg.usev4
    ] then
      bad "username and usev4 may not contain line breaks, `#` or `\\`"
    else if !(isString cfg.interval && match "([0-9]+(s|sec|m|min|h|hr|d) ?)+" cfg.interval != null) then
      bad "interval `${toString cfg.interval}` is not a time span like 5min"
    else if !isBool cfg.ssl then
      bad "ssl must be a boolean"
    else
      {
        inherit (cfg)
          protocol
          server
          zone
          username
          domains
          interval
          usev4
          ssl
          ;
        # `use` is deprecated in favour of usev4/usev6; empty keeps it off.
        use = "";
        usev6 = "";
      };

  # The records, as ddclient's last line lists them (for previews).
  records = cfg: concatStringsSep "," cfg.domains;
}
