# hearth's dynamic DNS: the host named by `[ddns]` (the gateway by default)
# runs nixpkgs' ddclient service, which keeps the listed records pointing at
# the home network's public address. The settings come from the pure
# renderer ./lib/ddns.nix; the provider's password or API token is an agenix
# secret handed to ddclient as a file (`passwordFile`: the module's preStart
# substitutes it into the runtime config with replace-secret, so it never
# enters the Nix store).
#
# Options set, read in nixpkgs nixos/modules/services/networking/ddclient.nix
# (stored copy 013635633ffe, 2025): services.ddclient.{enable, protocol,
# server, zone, username, domains, interval, usev4, usev6, use, ssl,
# passwordFile (nullOr str)}.
{
  config,
  lib,
  ...
}:
let
  cfg = config.hearth.ddns;
  render = import ./lib/ddns.nix;
  settings = render.settings cfg;
in
{
  options.hearth.ddns = {
    enable = lib.mkEnableOption "keeping DNS records current with ddclient";
    protocol = lib.mkOption {
      type = lib.types.str;
      example = "cloudflare";
      description = "ddclient protocol of the DNS provider (see <https://ddclient.net/protocols.html>).";
    };
    server = lib.mkOption {
      type = lib.types.str;
      default = "";
      description = "The provider's server; empty for the protocol's default.";
    };
    zone = lib.mkOption {
      type = lib.types.str;
      default = "";
      example = "example.net";
      description = "The DNS zone, for protocols that need one (cloudflare).";
    };
    username = lib.mkOption {
      type = lib.types.str;
      default = "";
      example = "token";
      description = "Login at the provider.";
    };
    domains = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      example = [ "home.example.net" ];
      description = "The records to keep pointing at this network's public address.";
    };
    interval = lib.mkOption {
      type = lib.types.str;
      default = "10min";
      description = "How often to check and update (systemd time span).";
    };
    usev4 = lib.mkOption {
      type = lib.types.str;
      default = "webv4, webv4=ipify-ipv4";
      description = "How ddclient finds the IPv4 address (ddclient's `usev4`).";
    };
    ssl = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Whether to talk to the provider over TLS.";
    };
    passwordSecret = lib.mkOption {
      type = lib.types.str;
      example = "ddns-token";
      description = ''
        Name of the `age.secrets` entry holding the provider's password or
        API token. Never put the token itself in the configuration: it would
        end up in the world-readable Nix store.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = config.age.secrets ? ${cfg.passwordSecret};
        message = "hearth.ddns.passwordSecret: there is no age.secrets.\"${cfg.passwordSecret}\"; set it with `hearth secret set ${cfg.passwordSecret} --host ${config.networking.hostName}` and run `hearth render`.";
      }
    ];
    # Attribute names spelt out (not `settings // { ... }`), so the module
    # system can see them without evaluating hearth.ddns.
    services.ddclient = {
      enable = true;
      inherit (settings)
        protocol
        server
        zone
        username
        domains
        interval
        usev4
        usev6
        use
        ssl
        ;
      passwordFile = config.age.secrets.${cfg.passwordSecret}.path;
    };
  };
}
