# Renderer tests for modules/lib/ddns.nix: the example gateway's
# `hearth.ddns` (hosts/extgw01/hearth.nix) -> services.ddclient attributes,
# exactly; every throw (each a value that would break ddclient.conf's
# `key=value` lines or that nixpkgs' module would pass through unchecked).
let
  lib = import ../../modules/lib;
  cfg = (import ../../hosts/extgw01/hearth.nix).hearth.ddns;
  with' = a: cfg // a;
in
[
  {
    name = "example gateway: services.ddclient attributes";
    expr = lib.ddns.settings cfg;
    expected = {
      protocol = "cloudflare";
      server = "";
      zone = "2rjus.net";
      username = "token";
      domains = [ "homelab.2rjus.net" ];
      interval = "5min";
      usev4 = "webv4, webv4=ipify-ipv4";
      ssl = true;
      use = "";
      usev6 = "";
    };
  }
  {
    name = "the host data names the secret, never a password";
    expr = [
      cfg.passwordSecret
      (cfg ? password)
      ((import ../../hosts/extgw01/hearth.nix).age.secrets ? ${cfg.passwordSecret})
    ];
    expected = [
      "ddns-token"
      false
      true
    ];
  }
  {
    name = "several records, a wildcard, a custom server, a two-part interval";
    expr =
      let
        s = lib.ddns.settings (with' {
          domains = [ "a.example.net" "*.b.example.net" ];
          server = "api.example.net";
          interval = "1h 30min";
        });
      in
      [ s.domains s.server s.interval (lib.ddns.records (with' { domains = [ "a.example.net" "b.example.net" ]; })) ];
    expected = [
      [ "a.example.net" "*.b.example.net" ]
      "api.example.net"
      "1h 30min"
      "a.example.net,b.example.net"
    ];
  }
  { name = "username with a line break (would add a config line)"; throws = lib.ddns.settings (with' { username = "token\npassword=x"; }); message = "may not contain line breaks"; }
  { name = "usev4 with a comment sign"; throws = lib.ddns.settings (with' { usev4 = "webv4 # x"; }); message = "may not contain line breaks"; }
  { name = "record with a comma (would name a second record)"; throws = lib.ddns.settings (with' { domains = [ "a.example.net,evil.example.org" ]; }); message = "domains must be a non-empty list of DNS names"; }
  { name = "no record"; throws = lib.ddns.settings (with' { domains = [ ]; }); message = "domains must be a non-empty list"; }
  { name = "protocol with a line break"; throws = lib.ddns.settings (with' { protocol = "dyndns2\nserver=evil"; }); message = "is not a ddclient protocol name"; }
  { name = "zone that is not a name"; throws = lib.ddns.settings (with' { zone = "a b"; }); message = "zone must be empty or a DNS name"; }
  { name = "server with a path"; throws = lib.ddns.settings (with' { server = "evil.example/x"; }); message = "server must be empty or a hostname"; }
  { name = "interval that is not a time span"; throws = lib.ddns.settings (with' { interval = "often"; }); message = "is not a time span"; }
  { name = "ssl not a boolean"; throws = lib.ddns.settings (with' { ssl = "yes"; }); message = "ssl must be a boolean"; }
]
