# hearth's allowlist firewall on the gateway: VPN clients reach only the LAN
# services the inventory allows, and (optionally) SSH to this host only from
# the VPN and LAN, rate-limited per source. Adds its own nftables table next
# to NixOS's firewall; the table text comes from ./lib/allowlist.nix, the same
# function `hearth preview` and the lab use. Enabling it turns on
# networking.nftables, which also moves NixOS's own firewall to its nftables
# backend (same rules, other tool).
{
  config,
  lib,
  ...
}:
let
  cfg = config.hearth.allowlist;
  render = import ./lib/allowlist.nix;

  # Shared by the forward rules and the input rules.
  protos = lib.types.listOf (
    lib.types.enum [
      "tcp"
      "udp"
    ]
  );

  ruleOpts = {
    options = {
      name = lib.mkOption {
        type = lib.types.str;
        example = "grafana";
        description = "Name of the service; shown (sanitised) in the ruleset's comments.";
      };
      from = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        example = [ "admins" ];
        description = "Names of {option}`hearth.allowlist.sources` sets allowed to reach the service.";
      };
      to = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        example = [ "10.69.13.11" ];
        description = "Destination IPv4 addresses or CIDRs.";
      };
      proto = lib.mkOption {
        type = protos;
        example = [ "tcp" ];
        description = "Protocols.";
      };
      ports = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        example = [
          "3000"
          "8000-8100"
        ];
        description = "Ports, each `N` or a range `N-M`.";
      };
    };
  };
in
{
  options.hearth.allowlist = {
    enable = lib.mkEnableOption "hearth's allowlist for traffic forwarded from the VPN";

    interface = lib.mkOption {
      type = lib.types.str;
      default = config.hearth.wireguard.interface;
      defaultText = lib.literalExpression "config.hearth.wireguard.interface";
      description = "Traffic entering from this interface is filtered; other traffic is not touched.";
    };

    sources = lib.mkOption {
      type = lib.types.attrsOf (lib.types.listOf lib.types.str);
      default = { };
      example = {
        admins = [ "10.69.222.10" ];
        all = [
          "10.69.222.10"
          "10.69.222.11"
        ];
      };
      description = ''
        Named sets of VPN source addresses: the inventory's groups, and
        `peer-<name>` for single peers.
      '';
    };

    rules = lib.mkOption {
      type = lib.types.listOf (lib.types.submodule ruleOpts);
      default = [ ];
      description = "Allowed flows. Everything else entering from the interface is dropped.";
    };

    input = lib.mkOption {
      type = lib.types.listOf (
        lib.types.submodule {
          options = {
            name = lib.mkOption {
              type = lib.types.str;
              example = "ingress-resolver";
              description = "What the rule opens; shown (sanitised) in its comment.";
            };
            interface = lib.mkOption {
              type = lib.types.str;
              default = cfg.interface;
              defaultText = lib.literalExpression "config.hearth.allowlist.interface";
              description = "The interface the packets come in on.";
            };
            from = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              example = [ "10.69.222.0/24" ];
              description = "Source IPv4 addresses or CIDRs.";
            };
            to = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              example = [ "10.69.222.3" ];
              description = "This host's addresses the rule opens.";
            };
            proto = lib.mkOption {
              type = protos;
              description = "Protocols.";
            };
            ports = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              example = [ "53" ];
              description = "Ports, each `N` or a range `N-M`.";
            };
          };
        }
      );
      default = [ ];
      description = ''
        Services on this host that other areas open to VPN clients (the
        ingress's resolver: 53/tcp+udp). Each becomes one accept rule in
        NixOS's firewall input chain
        ({option}`networking.firewall.extraInputRules`, rendered by
        `lib.allowlist.inputRules`).
      '';
    };

    log = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = "Whether to log dropped packets (prefix `hearth-drop `), rate-limited.";
      };
      rate = lib.mkOption {
        type = lib.types.strMatching "[1-9][0-9]{0,8}/(second|minute|hour|day)";
        default = "10/minute";
        description = "At most this many drop log lines.";
      };
    };

    ssh = {
      enable = lib.mkEnableOption "restricting SSH to this host to {option}`hearth.allowlist.ssh.sources`";
      port = lib.mkOption {
        type = lib.types.port;
        default = 22;
        description = "SSH port.";
      };
      sources = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [
          "10.69.222.0/24"
          "10.69.13.0/24"
        ];
        description = "IPv4 networks SSH is accepted from (the VPN pool and the LAN).";
      };
      rate = lib.mkOption {
        type = lib.types.strMatching "[1-9][0-9]{0,8}/(second|minute|hour|day)";
        default = "10/minute";
        description = "New SSH connections allowed per source address.";
      };
      burst = lib.mkOption {
        type = lib.types.ints.positive;
        default = 5;
        description = "Burst of new SSH connections allowed per source address.";
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      map (r: {
        assertion = lib.all (f: cfg.sources ? ${f}) r.from;
        message = "hearth.allowlist.rules (\"${r.name}\").from: unknown source set(s) ${
          lib.concatStringsSep ", " (lib.filter (f: !(cfg.sources ? ${f})) r.from)
        }; add them to hearth.allowlist.sources or run `hearth render` again.";
      }) cfg.rules
      ++ [
{
          # Enabling nftables moves NixOS's firewall to its nftables backend
          # (networking.firewall.backend), whose own assertions reject
          # iptables-style extraCommands/extraStopCommands
          # (nixos/modules/services/networking/firewall-nftables.nix). Say so
          # here, naming the option that turned nftables on.
          assertion =
            !config.networking.firewall.enable
            || (config.networking.firewall.extraCommands == "" && config.networking.firewall.extraStopCommands == "");
          message = "hearth.allowlist.enable turns on networking.nftables, so the NixOS firewall uses its nftables backend, which cannot run networking.firewall.extraCommands/extraStopCommands (iptables commands): move those rules to networking.firewall.extraInputRules/extraForwardRules or a table in networking.nftables.tables.";
        }
        {
          assertion = cfg.ssh.enable -> cfg.ssh.sources != [ ];
          message = "hearth.allowlist.ssh.sources: empty, so SSH to this host would be refused from everywhere; list the VPN and LAN networks or disable hearth.allowlist.ssh.";
        }
      ];

    warnings = lib.optional (!config.networking.nftables.checkRuleset) "networking.nftables.checkRuleset is off: hearth's allowlist table is then not checked with `nft --check` at build time, and a ruleset the kernel rejects leaves the gateway without its filter at boot. Turn it back on unless the check itself cannot run.";

    # networking.nftables.enable (bool) and .tables.<name>.{family (enum incl.
    # "inet"), content (lines)}; checkRuleset (bool, default true) stays on.
    # nixpkgs nixos/modules/services/networking/nftables.nix (2023-2025).
    # networking.firewall.extraInputRules (lines; nftables firewall only):
    # nixpkgs nixos/modules/services/networking/firewall-nftables.nix
    # (stored copy, 2025). An accept there is what lets a packet in; the
    # hearth table's input chain (policy accept) cannot.
    networking.firewall.extraInputRules = lib.mkIf (cfg.input != [ ]) (render.inputRules cfg);

    networking.nftables = {
      enable = true;
      tables.hearth = {
        family = "inet";
        content = render.allowlistContent cfg;
      };
    };
  };
}
