# hearth's WireGuard interface: hub, gateway or client, as generated into
# hosts/<host>/hearth.nix. Options only type and document the data; the
# interface, the `wg` view and the masquerade table come from the pure
# renderer in ./lib/wireguard.nix.
{
  config,
  lib,
  ...
}:
let
  cfg = config.hearth.wireguard;
  render = import ./lib/wireguard.nix;
  inherit (import ./lib/util/ipv4.nix) rules;

  secretPath = name: config.age.secrets.${name}.path;

  peerOpts = {
    options = {
      name = lib.mkOption {
        type = lib.types.strMatching "[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}";
        example = "vps";
        description = ''
          Name of the peer in the inventory. Also names the nixpkgs peer unit
          (`wireguard-<interface>-peer-<name>.service`).
        '';
      };
      publicKey = lib.mkOption {
        type = lib.types.singleLineStr;
        example = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
        description = "The peer's base64 public key (`wg pubkey`).";
      };
      allowedIPs = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        example = [ "10.69.222.0/24" ];
        description = ''
          Addresses this peer may send from and that are routed to it. The
          nixpkgs module also adds them as routes on the interface.
        '';
      };
      endpoint = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "vps.example.net:51821";
        description = "`host:port` to dial, or `null` to wait for the peer.";
      };
      persistentKeepalive = lib.mkOption {
        type = lib.types.nullOr (lib.types.ints.between 1 65535);
        default = null;
        example = 25;
        description = ''
          Seconds between keepalives; set on a gateway behind NAT so the hub
          can always reach it.
        '';
      };
      presharedKeySecret = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "hearth-wireguard-psk-vps";
        description = ''
          Name of the {option}`age.secrets` entry holding this pair's
          preshared key, or `null` for none. The key never enters the Nix
          store: the interface reads the decrypted file.
        '';
      };
    };
  };
in
{
  options.hearth.wireguard = {
    enable = lib.mkEnableOption "hearth's WireGuard interface (hub, gateway or client)";

    interface = lib.mkOption {
      type = lib.types.str;
      default = "hearth0";
      description = ''
        Name of the WireGuard interface, at most 15 characters. hearth uses
        its own interface so an existing tunnel (for example `wg0`) stays
        untouched.
      '';
    };

    role = lib.mkOption {
      type = lib.types.enum [
        "hub"
        "gateway"
        "client"
      ];
      example = "gateway";
      description = ''
        `hub`: public endpoint that listens and forwards between its peers.
        `gateway`: inside the LAN, dials the hub (or listens when there is
        no hub) and forwards VPN traffic into the LAN. `client`: a NixOS
        machine that is a peer.
      '';
    };

    addresses = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      example = [ "10.69.222.2/32" ];
      description = "Addresses of the interface (a /32: routes come from the peers' allowedIPs).";
    };

    listenPort = lib.mkOption {
      type = lib.types.nullOr lib.types.port;
      default = null;
      example = 51821;
      description = ''
        UDP port to listen on, or `null` for a random one (a gateway behind
        NAT that only dials out).
      '';
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Whether to open {option}`hearth.wireguard.listenPort` (UDP) in the firewall.";
    };

    mtu = lib.mkOption {
      type = lib.types.nullOr (lib.types.ints.between 1280 65535);
      default = null;
      example = 1420;
      description = "MTU of the interface, or `null` for the kernel's default.";
    };

    privateKeySecret = lib.mkOption {
      type = lib.types.str;
      example = "hearth-wireguard-key";
      description = ''
        Name of the {option}`age.secrets` entry holding this host's private
        key. The key is decrypted at activation and never enters the store.
      '';
    };

    forwarding = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Whether to enable IPv4 forwarding (hub and gateway).";
    };

    masquerade = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = false;
        description = ''
          Whether to masquerade forwarded VPN traffic that leaves through
          another interface. On the gateway (towards the LAN): LAN hosts then
          need no route back to the VPN pool, at the price of seeing the
          gateway's address instead of the client's (per-client logs and
          firewall rules on LAN hosts no longer tell clients apart). On the
          hub (towards `0.0.0.0/0`): full-tunnel clients reach the internet
          through the hub's uplink; hearth enables it there when a peer has
          `full_tunnel = true`.
        '';
      };
      sources = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [ "10.69.222.0/24" ];
        description = "Source networks to masquerade (the VPN pool).";
      };
      destinations = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [ "10.69.13.0/24" ];
        description = "Destination networks masqueraded towards (the LAN on a gateway, `0.0.0.0/0` on a hub).";
      };
      except = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [ "10.69.13.10" ];
        description = ''
          LAN addresses never masqueraded towards: an ingress that applies
          per-client allow lists must see each client's own address (it
          gets a route back to the VPN pool instead, {option}`hearth.ingress.routeBack`).
        '';
      };
    };

    peers = lib.mkOption {
      type = lib.types.listOf (lib.types.submodule peerOpts);
      default = [ ];
      description = "Peers of this interface, as resolved by the generator.";
    };
  };

  config = lib.mkIf cfg.enable (
    let
      iface = render.interface cfg;
      natContent = render.natTable cfg;
      pskSecrets = lib.filter (s: s != null) (map (p: p.presharedKeySecret) cfg.peers);
    in
    {
      assertions = [
        {
          # Enabling nftables moves NixOS's firewall to its nftables backend
          # (networking.firewall.backend), whose own assertions reject
          # iptables-style extraCommands/extraStopCommands
          # (nixos/modules/services/networking/firewall-nftables.nix). Say so
          # here, naming the option that turned nftables on.
          assertion =
            !cfg.masquerade.enable
            || !config.networking.firewall.enable
            || (config.networking.firewall.extraCommands == "" && config.networking.firewall.extraStopCommands == "");
          message = "hearth.wireguard.masquerade.enable turns on networking.nftables, so the NixOS firewall uses its nftables backend, which cannot run networking.firewall.extraCommands/extraStopCommands (iptables commands): move those rules to networking.firewall.extraInputRules/extraForwardRules or a table in networking.nftables.tables.";
        }
        {
          # The sysctls below are mkDefault; this catches a `false` elsewhere.
          assertion =
            !cfg.forwarding
            || lib.elem (config.boot.kernel.sysctl."net.ipv4.conf.all.forwarding" or true) [
              true
              1
              "1"
            ];
          message = "hearth.wireguard.forwarding: boot.kernel.sysctl.\"net.ipv4.conf.all.forwarding\" is false elsewhere in the configuration, so this hub/gateway would not route; remove that definition.";
        }
        {
          assertion = builtins.match rules.interface.re cfg.interface != null;
          message = "hearth.wireguard.interface: \"${cfg.interface}\" is not ${rules.interface.desc}.";
        }
        {
          assertion = config.age.secrets ? ${cfg.privateKeySecret};
          message = "hearth.wireguard.privateKeySecret: age.secrets.\"${cfg.privateKeySecret}\" is not defined; run `hearth render` so hosts/<host>/hearth.nix declares it, or define it yourself.";
        }
        {
          assertion = cfg.role == "hub" -> cfg.listenPort != null;
          message = "hearth.wireguard.listenPort: a hub must listen; set a port (for example 51821).";
        }
        {
          assertion = cfg.role != "client" -> cfg.forwarding;
          message = "hearth.wireguard.forwarding: a ${cfg.role} forwards traffic; set it to true.";
        }
        {
          assertion = cfg.masquerade.enable -> cfg.role != "client" && cfg.forwarding;
          message = "hearth.wireguard.masquerade.enable: only a forwarding hub or gateway masquerades; disable it or set forwarding = true.";
        }
        {
          assertion =
            lib.length (lib.unique (map (p: p.name) cfg.peers)) == lib.length cfg.peers;
          message = "hearth.wireguard.peers: peer names must be unique (they name systemd units); rename the duplicates in inventory.toml.";
        }
        {
          # nixpkgs adds allowedIPs as routes in the main table: a default
          # route into the tunnel would carry the tunnel's own packets too.
          assertion = cfg.role == "client" -> lib.all (p: !(lib.elem "0.0.0.0/0" p.allowedIPs)) cfg.peers;
          message = "hearth.wireguard.peers: a NixOS client cannot use a full tunnel (0.0.0.0/0) with networking.wireguard, whose routes would swallow the tunnel's own packets; use the split tunnel for NixOS clients.";
        }
      ]
      ++ map (name: {
        assertion = config.age.secrets ? ${name};
        message = "hearth.wireguard.peers.*.presharedKeySecret: age.secrets.\"${name}\" is not defined; run `hearth render` or set presharedKeySecret = null.";
      }) pskSecrets;

      # networking.wireguard.interfaces.<name>: ips, listenPort (nullOr int),
      # mtu (nullOr int), privateKeyFile (nullOr str), peers (listOf
      # submodule: name str, publicKey singleLineStr, presharedKeyFile
      # nullOr str, allowedIPs listOf str, endpoint nullOr str,
      # persistentKeepalive nullOr int). Checked against nixpkgs
      # nixos/modules/services/networking/wireguard.nix (2025, post-25.05:
      # peer `name` and privateKeyFile as str).
      networking.wireguard.interfaces.${cfg.interface} = {
        inherit (iface) ips listenPort mtu;
        privateKeyFile = secretPath cfg.privateKeySecret;
        peers = lib.zipListsWith (
          rendered: peer:
          rendered
          // {
            presharedKeyFile =
              if peer.presharedKeySecret == null then null else secretPath peer.presharedKeySecret;
          }
        ) iface.peers cfg.peers;
      };

      # Same keys as nixpkgs' networking.nat (boot.kernel.sysctl is a
      # freeform attrset of sysctlOption, whose merge is mergeOneOption:
      # two definitions at one priority fail even when equal;
      # nixos/modules/config/sysctl.nix). mkDefault, so the user's own
      # definition or networking.nat's (mkOverride 99) wins without a
      # conflict; the assertion above catches one that turns it off.
      boot.kernel.sysctl = lib.mkIf cfg.forwarding {
        "net.ipv4.conf.all.forwarding" = lib.mkDefault true;
        "net.ipv4.conf.default.forwarding" = lib.mkDefault true;
      };

      # networking.firewall.allowedUDPPorts: listOf port
      # (nixos/modules/services/networking/firewall.nix).
      networking.firewall.allowedUDPPorts = lib.mkIf (
        cfg.openFirewall && cfg.listenPort != null
      ) [ cfg.listenPort ];

      # networking.nftables.tables.<name> = { family; content; }
      # (nixos/modules/services/networking/nftables.nix, since 23.05).
      networking.nftables = lib.mkIf (natContent != "") {
        enable = true;
        tables.hearth-nat = {
          family = "ip";
          content = natContent;
        };
      };
    }
  );
}
