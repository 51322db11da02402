# Stub declarations of exactly the NixOS (and agenix) options hearth's
# modules set or read, with the names and types of the real declarations, so
# checks/eval can run hearth's modules under lib.evalModules without all of
# nixpkgs. Submodules are not freeform unless the real one is: setting an
# option nixpkgs does not have fails here too.
#
# Copied from (stored copies; 26.05 not available offline, see each note):
#   nixos/modules/services/networking/wireguard.nix   (2025, after 25.05)
#   nixos/modules/services/networking/nftables.nix    (2023+ `tables`)
#   nixos/modules/services/networking/firewall.nix
#   nixos/modules/services/networking/ssh/sshd.nix     (2025, RFC 42 settings)
#   nixos/modules/security/pam.nix                     (2025, rules + text)
#   nixos/modules/config/sysctl.nix, config/users-groups.nix,
#   system/etc/etc.nix, system/boot/systemd.nix, misc/assertions.nix
#   ryantm/agenix modules/age.nix at b027ee29 (the pinned rev)
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;

  # pkgs.formats.keyValue's atom (nixos/modules/services/networking/ssh/sshd.nix
  # uses it as the freeformType of services.openssh.settings).
  keyValueAtom = types.nullOr (
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
    ]
  );

  # nixos/modules/config/sysctl.nix: sysctlOption (bool, str, int or null).
  sysctlValue = types.nullOr (
    types.oneOf [
      types.bool
      types.str
      types.int
    ]
  );

  wgPeer =
    { config, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = builtins.replaceStrings [ "/" "-" " " "+" "=" ] [
            "-"
            "\\x2d"
            "\\x20"
            "\\x2b"
            "\\x3d"
          ] config.publicKey;
        };
        publicKey = mkOption { type = types.singleLineStr; };
        presharedKey = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        presharedKeyFile = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        allowedIPs = mkOption { type = types.listOf types.str; };
        endpoint = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        dynamicEndpointRefreshSeconds = mkOption {
          type = types.nullOr types.int;
          default = null;
        };
        persistentKeepalive = mkOption {
          type = types.nullOr types.int;
          default = null;
        };
      };
    };

  wgInterface = {
    options = {
      type = mkOption {
        type = types.enum [
          "wireguard"
          "amneziawg"
        ];
        default = "wireguard";
      };
      ips = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      privateKey = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      privateKeyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      generatePrivateKeyFile = mkOption {
        type = types.bool;
        default = false;
      };
      listenPort = mkOption {
        type = types.nullOr types.int;
        default = null;
      };
      mtu = mkOption {
        type = types.nullOr types.int;
        default = null;
      };
      table = mkOption {
        type = types.str;
        default = "main";
      };
      allowedIPsAsRoutes = mkOption {
        type = types.bool;
        default = true;
      };
      peers = mkOption {
        type = types.listOf (types.submodule wgPeer);
        default = [ ];
      };
    };
  };

  nftTable =
    { name, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
        };
        name = mkOption { type = types.str; };
        content = mkOption { type = types.lines; };
        family = mkOption {
          type = types.enum [
            "ip"
            "ip6"
            "inet"
            "arp"
            "bridge"
            "netdev"
          ];
        };
      };
      config.name = lib.mkDefault name;
    };

  sshdSettings = {
    freeformType = types.attrsOf keyValueAtom;
    options = {
      AuthorizedPrincipalsFile = mkOption {
        type = types.nullOr types.str;
        default = "none";
      };
      LogLevel = mkOption {
        type = types.nullOr (
          types.enum [
            "QUIET"
            "FATAL"
            "ERROR"
            "INFO"
            "VERBOSE"
            "DEBUG"
            "DEBUG1"
            "DEBUG2"
            "DEBUG3"
          ]
        );
        default = "INFO";
      };
      UsePAM = mkOption {
        type = types.nullOr types.bool;
        default = true;
      };
      UseDns = mkOption {
        type = types.nullOr types.bool;
        default = false;
      };
      X11Forwarding = mkOption {
        type = types.nullOr types.bool;
        default = false;
      };
      PasswordAuthentication = mkOption {
        type = types.nullOr types.bool;
        default = true;
      };
      PermitRootLogin = mkOption {
        type = types.nullOr (
          types.enum [
            "yes"
            "without-password"
            "prohibit-password"
            "forced-commands-only"
            "no"
          ]
        );
        default = "prohibit-password";
      };
      KbdInteractiveAuthentication = mkOption {
        type = types.nullOr types.bool;
        default = true;
      };
      GatewayPorts = mkOption {
        type = types.nullOr types.str;
        default = "no";
      };
      StrictModes = mkOption {
        type = types.nullOr types.bool;
        default = true;
      };
      AllowUsers = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
      };
      DenyUsers = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
      };
      AllowGroups = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
      };
      DenyGroups = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
      };
      PrintMotd = mkOption {
        type = types.nullOr types.bool;
        default = false;
      };
    };
  };

  pamService =
    { name, ... }:
    {
      options = {
        name = mkOption { type = types.str; };
        unixAuth = mkOption {
          type = types.bool;
          default = true;
        };
        startSession = mkOption {
          type = types.bool;
          default = false;
        };
        text = mkOption { type = types.nullOr types.lines; };
      };
      # pam.nix renders its rules into `text` with mkDefault.
      config = {
        name = lib.mkDefault name;
        text = lib.mkDefault "# nixpkgs' own ${name} stack (rules)\n";
      };
    };

  user =
    { name, ... }:
    {
      options = {
        name = mkOption { type = types.str; };
        isNormalUser = mkOption {
          type = types.bool;
          default = false;
        };
        isSystemUser = mkOption {
          type = types.bool;
          default = false;
        };
        openssh.authorizedKeys = {
          keys = mkOption {
            type = types.listOf types.singleLineStr;
            default = [ ];
          };
          keyFiles = mkOption {
            type = types.listOf types.path;
            default = [ ];
          };
        };
      };
      config.name = lib.mkDefault name;
    };

  etcFile =
    { name, ... }:
    {
      options = {
        target = mkOption {
          type = types.str;
          default = name;
        };
        text = mkOption {
          type = types.nullOr types.lines;
          default = null;
        };
        source = mkOption {
          type = types.nullOr types.path;
          default = null;
        };
        mode = mkOption {
          type = types.str;
          default = "symlink";
        };
      };
    };

  # systemd.services.<name>: the unit options hearth uses
  # (nixos/lib/systemd-unit-options.nix).
  unitOption = types.oneOf [
    types.bool
    types.int
    types.str
    types.path
    (types.listOf types.str)
  ];
  service = {
    options = {
      description = mkOption {
        type = types.singleLineStr;
        default = "";
      };
      wantedBy = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      requiredBy = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      before = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      after = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      wants = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      requires = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      path = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
      };
      serviceConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      script = mkOption {
        type = types.lines;
        default = "";
      };
      # backup area: systemd-unit-options.nix `onFailure` (listOf unitNameType).
      onFailure = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
    };
  };

  # backup area: systemd.timers.<name> (the options hearth sets).
  timer = {
    options = {
      wantedBy = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      timerConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
    };
  };

  # backup area: nixos/modules/services/backup/restic.nix, the stored copy
  # with `command`, `runCheck`, `fileBackupContract` (2025 layout; per-backup
  # options at top level). Only the options hearth sets.
  resticBackup = {
    options = {
      passwordFile = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      environmentFile = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      repository = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      paths = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = [ ];
      };
      timerConfig = mkOption {
        type = types.nullOr (types.attrsOf unitOption);
        default = {
          OnCalendar = "daily";
          Persistent = true;
        };
      };
      extraBackupArgs = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      initialize = mkOption {
        type = types.bool;
        default = false;
      };
      pruneOpts = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      runCheck = mkOption {
        type = types.bool;
        default = false;
      };
      checkOpts = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      backupPrepareCommand = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      backupCleanupCommand = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
    };
  };

  # agenix modules/age.nix (b027ee29): secretType.
  ageSecret =
    { config, name, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
        };
        file = mkOption { type = types.path; };
        path = mkOption {
          type = types.str;
          default = "/run/agenix/${config.name}";
        };
        mode = mkOption {
          type = types.str;
          default = "0400";
        };
        owner = mkOption {
          type = types.str;
          default = "0";
        };
        group = mkOption {
          type = types.str;
          default = "0";
        };
        symlink = mkOption {
          type = types.bool;
          default = true;
        };
      };
    };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };

    boot.isContainer = mkOption {
      type = types.bool;
      default = false;
    };
    boot.kernel.sysctl = mkOption {
      type = types.attrsOf sysctlValue;
      default = { };
    };

    networking.wireguard.enable = mkOption {
      type = types.bool;
      default = false;
    };
    networking.wireguard.interfaces = mkOption {
      type = types.attrsOf (types.submodule wgInterface);
      default = { };
    };

    networking.nftables.enable = mkOption {
      type = types.bool;
      default = false;
    };
    networking.nftables.checkRuleset = mkOption {
      type = types.bool;
      default = true;
    };
    networking.nftables.ruleset = mkOption {
      type = types.lines;
      default = "";
    };
    networking.nftables.tables = mkOption {
      type = types.attrsOf (types.submodule nftTable);
      default = { };
    };

    networking.firewall.enable = mkOption {
      type = types.bool;
      default = true;
    };
    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };
    networking.firewall.allowedUDPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };

    services.openssh.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.openssh.ports = mkOption {
      type = types.listOf types.port;
      default = [ 22 ];
    };
    services.openssh.openFirewall = mkOption {
      type = types.bool;
      default = true;
    };
    services.openssh.settings = mkOption {
      type = types.submodule sshdSettings;
      default = { };
    };

    security.pam.package = mkOption {
      type = types.package;
    };
    security.pam.services = mkOption {
      type = types.attrsOf (types.submodule pamService);
      default = { };
    };

    users.users = mkOption {
      type = types.attrsOf (types.submodule user);
      default = { };
    };

    environment.etc = mkOption {
      type = types.attrsOf (types.submodule etcFile);
      default = { };
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };

    systemd.package = mkOption { type = types.package; };
    # backup area
    systemd.timers = mkOption {
      type = types.attrsOf (types.submodule timer);
      default = { };
    };
    systemd.tmpfiles.rules = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    services.restic.backups = mkOption {
      type = types.attrsOf (types.submodule resticBackup);
      default = { };
    };
    boot.zfs.package = mkOption { type = types.package; };
    networking.hostName = mkOption {
      type = types.str;
      default = "nixos";
    };
    systemd.services = mkOption {
      type = types.attrsOf (types.submodule service);
      default = { };
    };

    age.secretsDir = mkOption {
      type = types.path;
      default = "/run/agenix";
    };
    age.secrets = mkOption {
      type = types.attrsOf (types.submodule ageSecret);
      default = { };
    };
  };

  config = {
    security.pam.package = lib.mkDefault pkgs.pam;
    systemd.package = lib.mkDefault pkgs.systemd;
    boot.zfs.package = lib.mkDefault pkgs.zfs;
  };
}
