# hearth's ZFS storage: pools imported at boot, datasets created with their
# properties (never destroyed, renamed or changed: a differing property is
# reported), sanoid snapshots per tier, weekly scrubs, syncoid replication,
# and ZED / failed units reported through hearth-notify (./notify.nix).
# Everything rendered comes from ./lib/storage.nix, which the lab runs too.
#
# nixpkgs sources read (stored copies; 26.05 not available offline):
#   nixos/modules/services/backup/sanoid.nix (2025, `environment.etc."sanoid/
#     sanoid.conf".text = configFile`, configFile = lib.generators.toINI of
#     services.sanoid.settings; ExecStartPre `zfs allow` only for
#     services.sanoid.datasets, which hearth does not use: see below)
#   nixos/modules/services/backup/syncoid.nix (03a362fe, 2023; commands.<n>
#     .{source,target,recursive,extraArgs,service}, sshKey: nullOr path)
#   nixos/modules/tasks/filesystems/zfs.nix (a623be9d): boot.zfs.extraPools
#     (listOf str), services.zfs.autoScrub.{enable,interval,pools},
#     services.zfs.zed.{enableMail,settings}
#   nixos/modules/tasks/network-interfaces.nix: networking.hostId (nullOr str)
#   nixos/modules/tasks/filesystems.nix: boot.supportedFilesystems (attrsOf bool)
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.hearth.storage;
  render = import ./lib/storage.nix;
  notify = config.hearth.notify;
  onFailure = lib.optional notify.enable "hearth-notify@%n.service";
  zfsBin = "/run/booted-system/sw/bin/zfs";
  # sanoid runs as a DynamicUser: it needs snapshot/mount/destroy on each
  # dataset (what nixpkgs does for services.sanoid.datasets).
  allow =
    action: d:
    "-+${zfsBin} ${action} sanoid snapshot,mount,destroy ${lib.escapeShellArg d}";
  create = pkgs.writeShellScript "hearth-storage-create" (render.createScript cfg);
  zedNotify = pkgs.writeShellScript "hearth-zed-notify" ''
    # ZED calls ZED_EMAIL_PROG ZED_EMAIL_OPTS with the message on stdin.
    exec ${notify.program} "$1"
  '';
  tierSubmodule = {
    options = lib.genAttrs [ "frequent" "hourly" "daily" "weekly" "monthly" "yearly" ] (
      p:
      lib.mkOption {
        type = lib.types.ints.unsigned;
        description = "Number of ${p} snapshots sanoid keeps.";
      }
    )
    // {
      backup = lib.mkOption {
        type = lib.types.bool;
        description = "Whether the backup area backs this tier up.";
      };
      replicateTo = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        description = "Hosts that get a replica.";
      };
    };
  };
in
{
  options.hearth.storage = {
    enable = lib.mkEnableOption "hearth's ZFS storage tiers";
    hostId = lib.mkOption {
      type = lib.types.strMatching "[0-9a-f]{8}";
      example = "be1e2f86";
      description = "`networking.hostId`. Kept in the inventory; never change it on a host with pools.";
    };
    pools = lib.mkOption {
      type = lib.types.listOf (
        lib.types.submodule {
          options = {
            name = lib.mkOption {
              type = lib.types.str;
              description = "Pool name.";
            };
            layout = lib.mkOption {
              type = lib.types.enum [ "mirror" "raidz1" "raidz2" "raidz3" "stripe" ];
              description = "The vdev layout (documentation; the lab builds it).";
            };
            disks = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              description = "The disks.";
            };
          };
        }
      );
      description = "Pools imported at boot (`boot.zfs.extraPools`) and scrubbed.";
    };
    scrub = {
      enable = lib.mkOption {
        type = lib.types.bool;
        description = "Whether to scrub the pools.";
      };
      interval = lib.mkOption {
        type = lib.types.str;
        example = "weekly";
        description = "systemd calendar expression for scrubs.";
      };
    };
    tiers = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule tierSubmodule);
      description = "The tiers this host's datasets (and received replicas) use.";
    };
    datasets = lib.mkOption {
      type = lib.types.listOf (lib.types.attrsOf lib.types.anything);
      description = "Datasets: `{ name; pool; tier; mountpoint; properties; }`.";
    };
    replication = lib.mkOption {
      type = lib.types.listOf (lib.types.attrsOf lib.types.str);
      description = "Datasets pushed to other hosts: `{ name; source; host; address; targetDataset; }`.";
    };
    replicationKeySecret = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      description = "Name in `age.secrets` of syncoid's SSH private key.";
    };
    receive = lib.mkOption {
      type = lib.types.listOf (lib.types.attrsOf lib.types.anything);
      description = "Replicas this host receives: `{ from; parent; datasets = [ { name; tier; } ]; }`.";
    };
    replicaAuthorizedKeys = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "ssh-ed25519 AAAA... syncoid@nas01" ];
      description = "SSH public keys of the hosts that push replicas here (user `hearth-replica`); the `.pub` of each source's `syncoid-ssh-key`.";
    };
  };

  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        assertions = [
          {
            assertion = cfg.replication == [ ] || cfg.replicationKeySecret != null;
            message = "hearth.storage.replicationKeySecret must name syncoid's SSH key when hearth.storage.replication is set (hearth secret set syncoid-ssh-key --host HOST).";
          }
          {
            assertion = cfg.receive == [ ] || cfg.replicaAuthorizedKeys != [ ];
            message = "hearth.storage.replicaAuthorizedKeys must list the SSH keys of the hosts that replicate here (${
              lib.concatMapStringsSep ", " (r: r.from) cfg.receive
            }).";
          }
        ];
        networking.hostId = cfg.hostId;
        boot.supportedFilesystems.zfs = true;
        boot.zfs.extraPools = map (p: p.name) cfg.pools;
        services.zfs.autoScrub = {
          inherit (cfg.scrub) enable interval;
          pools = map (p: p.name) cfg.pools;
        };

        systemd.services.hearth-storage-create = {
          description = "hearth: create missing ZFS datasets (never changes existing ones)";
          wantedBy = [ "multi-user.target" ];
          after = [ "zfs-import.target" "zfs-mount.service" ];
          before = [ "sanoid.service" ] ++ map (r: "syncoid-${r.name}.service") cfg.replication;
          path = [ config.boot.zfs.package ];
          inherit onFailure;
          serviceConfig = {
            Type = "oneshot";
            RemainAfterExit = true;
            ExecStart = "${create}";
          };
        };

        services.sanoid = {
          enable = true;
          interval = render.sanoidInterval cfg;
          settings = render.sanoidSettings cfg;
        };
        systemd.services.sanoid = {
          inherit onFailure;
          wants = [ "hearth-storage-create.service" ];
          after = [ "hearth-storage-create.service" ];
          serviceConfig = {
            ExecStartPre = map (allow "allow") (render.datasetNames cfg);
            ExecStopPost = map (allow "unallow") (render.datasetNames cfg);
          };
        };
        systemd.services.zfs-scrub.onFailure = onFailure;
      }
      (lib.mkIf notify.enable {
        services.zfs.zed = {
          enableMail = false;
          settings = {
            ZED_EMAIL_ADDR = [ "root" ];
            ZED_EMAIL_PROG = "${zedNotify}";
            ZED_EMAIL_OPTS = "'@SUBJECT@'";
            ZED_NOTIFY_VERBOSE = true;
          };
        };
      })
      (lib.mkIf (cfg.replication != [ ]) {
        services.syncoid = {
          enable = true;
          sshKey = config.age.secrets.${cfg.replicationKeySecret}.path;
          commands = lib.mapAttrs (
            _: c:
            c
            // {
              service = {
                inherit onFailure;
              };
            }
          ) (render.syncoidCommands cfg);
        };
      })
      (lib.mkIf (cfg.receive != [ ]) {
        users.users.hearth-replica = {
          isSystemUser = true;
          group = "hearth-replica";
          shell = pkgs.bashInteractive;
          openssh.authorizedKeys.keys = cfg.replicaAuthorizedKeys;
        };
        users.groups.hearth-replica = { };
        # Receiving needs these on the replicas' parents (syncoid.nix: "For
        # remote target datasets you'll have to set your remote user
        # permissions by yourself").
        systemd.services.hearth-storage-create.postStart = lib.concatMapStrings (r: ''
          zfs allow -u hearth-replica compression,create,mount,mountpoint,receive,rollback,destroy,hold ${lib.escapeShellArg r.parent}
        '') cfg.receive;
      })
    ]
  );
}
