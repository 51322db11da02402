# hearth's KVM, on the bastion host: a PiKVM behind a TESmart KVM switch.
# Installs `hearth-kvm` (`hearth-kvm switch jelly01`, `hearth-kvm status`,
# `hearth-kvm list`) for SSH sessions on the bastion: it is `hearth kvm
# --map /etc/hearth/kvm.json`, so the switch is driven by the same protocol
# code as `hearth kvm switch` on a laptop, and the map it reads is the pure
# renderer's `switchMap` (./lib/kvm.nix). kvmd's override.yaml for the
# PiKVM itself (not a NixOS host) comes from the same renderer and is
# installed with `hearth kvm push`.
#
# Options set here, read in the stored nixpkgs sources (26.05 is not
# available offline; both types are unchanged for years):
#   environment.etc.<name>.text   nixos/modules/system/etc/etc.nix, stored copy
#                                 of the lib.mdDoc era (2023): nullOr lines
#   environment.systemPackages    nixos/modules/config/system-path.nix: listOf package
# checks/eval/stubs.nix declares both with these types.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.hearth.kvm;
  render = import ./lib/kvm.nix;

  mapEtc = "hearth/kvm.json";

  command = pkgs.writeShellScriptBin cfg.command ''
    exec ${cfg.package}/bin/hearth kvm --map /etc/${mapEtc} "$@"
  '';

  hostOpts = {
    options = {
      name = lib.mkOption {
        type = lib.types.strMatching "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
        example = "jelly01";
        description = "The host's name; it labels the host's row on the PiKVM's web page.";
      };
      port = lib.mkOption {
        type = lib.types.ints.between 1 16;
        example = 3;
        description = "The switch port the host is cabled to, 1-based as printed on the switch.";
      };
    };
  };
in
{
  options.hearth.kvm = {
    enable = lib.mkEnableOption "the `hearth-kvm` command that switches the PiKVM's KVM switch by host name";

    package = lib.mkOption {
      type = lib.types.nullOr lib.types.package;
      default = null;
      defaultText = lib.literalExpression "hearth.packages.\${system}.hearth (set by the flake's nixosModules.default)";
      description = "The hearth package whose `hearth kvm` the `hearth-kvm` command runs.";
    };

    command = lib.mkOption {
      type = lib.types.strMatching "[a-z][a-z0-9-]*";
      default = "hearth-kvm";
      description = "Name of the installed command.";
    };

    pikvm = {
      address = lib.mkOption {
        type = lib.types.str;
        example = "10.69.13.30";
        description = "The PiKVM's LAN address.";
      };
      webPort = lib.mkOption {
        type = lib.types.port;
        default = 443;
        description = "TCP port of the PiKVM's web UI.";
      };
    };

    switch = {
      kind = lib.mkOption {
        type = lib.types.enum [ "tesmart" ];
        default = "tesmart";
        description = "The switch's make.";
      };
      address = lib.mkOption {
        type = lib.types.str;
        example = "10.69.13.31";
        description = "The switch's LAN address.";
      };
      port = lib.mkOption {
        type = lib.types.port;
        default = 5000;
        description = "TCP port of the switch's control protocol.";
      };
      ports = lib.mkOption {
        type = lib.types.ints.between 1 16;
        example = 8;
        description = "How many ports the switch has.";
      };
      timeout = lib.mkOption {
        type = lib.types.ints.between 1 60;
        default = 5;
        description = "Seconds to wait for the switch (kvmd's `timeout`).";
      };
      switchDelay = lib.mkOption {
        type = lib.types.ints.between 0 30;
        default = 1;
        description = "Seconds the switch needs after switching (kvmd's `switch_delay`).";
      };
      statePoll = lib.mkOption {
        type = lib.types.ints.between 1 3600;
        default = 10;
        description = "Seconds between kvmd's polls of the active port (kvmd's `state_poll`).";
      };
    };

    hosts = lib.mkOption {
      type = lib.types.listOf (lib.types.submodule hostOpts);
      default = [ ];
      description = "Hosts cabled to the switch.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.package != null;
        message = "hearth.kvm.package must be set to the hearth package (the flake's nixosModules.default sets it), so that hearth-kvm can run `hearth kvm`.";
      }
    ];

    environment.etc.${mapEtc}.text = builtins.toJSON (render.switchMap cfg);

    environment.systemPackages = lib.optional (cfg.package != null) command;
  };
}
