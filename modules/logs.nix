# hearth's logs: the host's systemd journal shipped to Loki with Grafana
# Alloy (or promtail on a nixpkgs that still has it), the gateway's dropped
# VPN packets labelled hearth_drop="1" with src/dst; on the Loki host,
# services.loki (single binary, filesystem storage, compactor retention) with
# its push port open to the shipping hosts only. VPN clients reach Loki only
# through the gateway's allowlist, i.e. when a [services] entry grants it.
#
# Every configuration text comes from ./lib/logs.nix, the same functions
# `hearth preview HOST alloy|promtail|loki` and the lab call.
#
# nixpkgs sources read (stored copies; 26.05 itself not available offline):
#   nixos/modules/services/monitoring/alloy.nix (2025, with environmentFile):
#     services.alloy.{enable (bool), configPath (path, default "/etc/alloy")};
#     the unit runs `alloy run /etc/alloy` with DynamicUser = true,
#     SupplementaryGroups = [ "systemd-journal" ], and reloads on changes of
#     environment.etc."alloy/*.alloy".
#   nixos/modules/services/monitoring/loki.nix (2024-2025):
#     services.loki.{enable (bool), configuration ((pkgs.formats.json {}).type),
#     dataDir (path, default "/var/lib/loki")}; written as JSON and checked
#     with `loki -verify-config` at build time.
#   nixos/modules/services/logging/promtail.nix (last version before nixpkgs
#     PR 505055 removed it): services.promtail.{enable, configuration (json)};
#     unit user "promtail".
#   nixos/modules/services/networking/firewall-nftables.nix: extraInputRules
#     (lines, nftables firewall only); firewall-iptables.nix: extraCommands
#     (lines, iptables firewall only; asserted unset under nftables).
{
  config,
  lib,
  options,
  ...
}:
let
  cfg = config.hearth.logs;
  render = import ./lib/logs.nix;

  # services.promtail exists on this nixpkgs (it is gone since PR 505055).
  hasPromtail = options ? services && options.services ? promtail;

  alloy = cfg.ship && cfg.agent == "alloy";
  promtail = cfg.ship && cfg.agent == "promtail";
  secret = cfg.push.passwordSecret;
  # The agenix secret, handed to the agent's unit as a systemd credential
  # (read at /run/credentials/<unit>.service/<secret>, see ./lib/logs.nix).
  credential = lib.mkIf (secret != null) [ "${secret}:${config.age.secrets.${secret}.path}" ];
  firewall =
    if cfg.loki == null then
      {
        nftables = "";
        iptables = "";
      }
    else
      render.lokiFirewall cfg;
in
{
  options.hearth.logs = {
    enable = lib.mkEnableOption "hearth's logs: this host's journal to Loki, and/or Loki itself";

    host = lib.mkOption {
      type = lib.types.str;
      example = "extgw01";
      description = "The `host` label on this host's lines (its inventory name).";
    };

    ship = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Whether this host ships its journal.";
    };

    agent = lib.mkOption {
      type = lib.types.enum [
        "alloy"
        "promtail"
      ];
      default = "alloy";
      description = ''
        The shipping agent: Grafana Alloy ({option}`services.alloy`), or
        promtail ({option}`services.promtail`) on a nixpkgs that still has it
        (nixpkgs PR 505055 removed it after its end of life on 2026-03-02).
      '';
    };

    push = {
      url = lib.mkOption {
        type = lib.types.str;
        example = "http://10.69.13.11:3100/loki/api/v1/push";
        description = "Loki's push URL.";
      };
      username = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        description = "Basic-auth user for an external Loki.";
      };
      passwordSecret = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "loki-password";
        description = ''
          Name in {option}`age.secrets` of the basic-auth password. The
          password never enters the Nix store: the agent's unit gets the
          decrypted file as a systemd credential.
        '';
      };
      tenant = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        description = "Tenant (`X-Scope-OrgID`) for a multi-tenant Loki.";
      };
    };

    labels = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      example = {
        site = "home";
      };
      description = "Extra labels on every line (Prometheus label names).";
    };

    journalMaxAge = lib.mkOption {
      type = lib.types.str;
      default = "12h";
      description = "How far back the agent reads the journal on its first start.";
    };

    loki = lib.mkOption {
      default = null;
      description = "Set on the Loki host: run services.loki.";
      type = lib.types.nullOr (
        lib.types.submodule {
          options = {
            enable = lib.mkEnableOption "Loki on this host" // {
              default = true;
            };
            port = lib.mkOption {
              type = lib.types.port;
              default = 3100;
              description = "Loki's HTTP port (push and query).";
            };
            grpcPort = lib.mkOption {
              type = lib.types.port;
              default = 9096;
              description = "Loki's gRPC port (not opened).";
            };
            retention = lib.mkOption {
              type = lib.types.str;
              default = "744h";
              description = "How long Loki keeps lines (the compactor deletes older ones).";
            };
            dataDir = lib.mkOption {
              type = lib.types.str;
              default = "/var/lib/loki";
              description = "Loki's data directory.";
            };
            allowFrom = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              default = [ ];
              example = [ "10.69.13.20" ];
              description = "Addresses that may push (the shipping hosts).";
            };
          };
        }
      );
    };
  };

  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        assertions = [
          {
            assertion = promtail -> hasPromtail;
            message = "hearth.logs.agent: \"promtail\", but this nixpkgs has no services.promtail (nixpkgs PR 505055 removed it; promtail reached end of life on 2026-03-02). Use Grafana Alloy: set agent = \"alloy\" in [logs] of inventory.toml and run `hearth render`.";
          }
          {
            assertion = secret != null -> config.age.secrets ? ${secret};
            message = "hearth.logs.push.passwordSecret: \"${toString secret}\" is not in age.secrets; add it to this host's `secrets` in inventory.toml, set it with `hearth secret set ${toString secret} --host ${cfg.host}`, and run `hearth render`.";
          }
        ];
      }

      (lib.mkIf alloy {
        services.alloy.enable = true;
        # configPath stays /etc/alloy (the module's default) so that a change
        # reloads Alloy instead of restarting it.
        environment.etc."alloy/config.alloy".text = render.alloyConfig cfg;
        systemd.services.alloy.serviceConfig = {
          # Already in nixpkgs' unit; stated because the journal source needs it.
          SupplementaryGroups = [ "systemd-journal" ];
          LoadCredential = credential;
        };
      })

      (lib.mkIf promtail (
        lib.optionalAttrs hasPromtail {
          services.promtail = {
            enable = true;
            configuration = render.promtailConfig cfg;
          };
          systemd.services.promtail.serviceConfig.LoadCredential = credential;
        }
      ))

      (lib.mkIf (cfg.loki != null && cfg.loki.enable) {
        services.loki = {
          enable = true;
          dataDir = cfg.loki.dataDir;
          configuration = render.lokiConfig cfg;
        };
        networking.firewall.extraInputRules = lib.mkIf config.networking.nftables.enable firewall.nftables;
        networking.firewall.extraCommands = lib.mkIf (!config.networking.nftables.enable) firewall.iptables;
      })
    ]
  );
}
