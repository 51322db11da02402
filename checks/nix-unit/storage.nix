# Renderer tests for modules/lib/storage.nix: exact output and every throw.
let
  lib = import ../../modules/lib;
  s = lib.storage;
  tier = c: {
    frequent = builtins.elemAt c 0;
    hourly = builtins.elemAt c 1;
    daily = builtins.elemAt c 2;
    weekly = builtins.elemAt c 3;
    monthly = builtins.elemAt c 4;
    yearly = builtins.elemAt c 5;
    backup = true;
    replicateTo = [ ];
  };
  cfg = {
    enable = true;
    hostId = "be1e2f86";
    pools = [
      {
        name = "tank";
        layout = "mirror";
        disks = [
          "/dev/a"
          "/dev/b"
        ];
      }
    ];
    scrub = {
      enable = true;
      interval = "weekly";
    };
    tiers = {
      attic = tier [ 0 0 30 8 12 2 ];
      garage = tier [ 0 0 7 2 0 0 ];
      unused = tier [ 1 1 1 1 1 1 ];
    };
    datasets = [
      {
        name = "tank/attic";
        pool = "tank";
        tier = "attic";
        mountpoint = "/share/attic";
        properties = {
          compression = "lz4";
        };
      }
      {
        name = "tank/garage";
        pool = "tank";
        tier = "garage";
        mountpoint = "/share/garage";
        properties = { };
      }
    ];
    replication = [
      {
        name = "tank-attic-to-desk01";
        source = "tank/attic";
        host = "desk01";
        address = "10.0.0.31";
        targetDataset = "rpool/replicas/nas01/attic";
      }
    ];
    replicationKeySecret = "syncoid-ssh-key";
    receive = [ ];
  };
  target = cfg // {
    datasets = [ ];
    replication = [ ];
    receive = [
      {
        from = "nas01";
        parent = "rpool/replicas/nas01";
        datasets = [
          {
            name = "rpool/replicas/nas01/attic";
            tier = "attic";
          }
        ];
      }
    ];
  };
  withTier = t: cfg // { datasets = [ ((builtins.head cfg.datasets) // { tier = t; }) ]; };
in
[
  {
    name = "sanoid.conf: one template per used tier, datasets mapped, toINI order";
    expr = s.sanoidConf cfg;
    expected = ''
      [tank/attic]
      use_template=attic

      [tank/garage]
      use_template=garage

      [template_attic]
      autoprune=true
      autosnap=true
      daily=30
      frequently=0
      hourly=0
      monthly=12
      weekly=8
      yearly=2

      [template_garage]
      autoprune=true
      autosnap=true
      daily=7
      frequently=0
      hourly=0
      monthly=0
      weekly=2
      yearly=0
    '';
  }
  {
    name = "sanoid settings: attrs for services.sanoid.settings";
    expr = (s.sanoidSettings cfg)."tank/garage";
    expected = {
      use_template = [ "garage" ];
    };
  }
  {
    name = "received replicas: pruned by their tier, never snapshotted";
    expr = s.sanoidConf target;
    expected = ''
      [rpool/replicas/nas01/attic]
      autosnap=false
      use_template=attic

      [template_attic]
      autoprune=true
      autosnap=true
      daily=30
      frequently=0
      hourly=0
      monthly=12
      weekly=8
      yearly=2
    '';
  }
  {
    name = "sanoid interval: hourly without frequent snapshots";
    expr = s.sanoidInterval cfg;
    expected = "hourly";
  }
  {
    name = "sanoid interval: every 15 minutes with frequent snapshots";
    expr = s.sanoidInterval (withTier "unused");
    expected = "*:0/15";
  }
  {
    name = "datasets sanoid needs zfs allow on";
    expr = s.datasetNames cfg ++ s.datasetNames target;
    expected = [
      "tank/attic"
      "tank/garage"
      "rpool/replicas/nas01/attic"
    ];
  }
  {
    name = "syncoid commands: push over SSH, no syncoid snapshots";
    expr = s.syncoidCommands cfg;
    expected = {
      tank-attic-to-desk01 = {
        source = "tank/attic";
        target = "hearth-replica@10.0.0.31:rpool/replicas/nas01/attic";
        recursive = false;
        extraArgs = [ "--no-sync-snap" ];
      };
    };
  }
  {
    name = "create script: creates missing, checks existing, never destroys";
    expr = s.createScript (cfg // { datasets = [ (builtins.head cfg.datasets) ]; });
    expected = ''
      #!/usr/bin/env bash
      # Creates missing datasets; never destroys, renames or changes one.
      set -uo pipefail
      status=0
      drift=0
      altroot=''${HEARTH_ZFS_ALTROOT:-}
      check() {
        local have
        have=$(zfs get -H -o value "$2" "$1") || { status=1; return; }
        if [ "$have" != "$3" ]; then
          echo "hearth-storage: $1: $2 is $have, the inventory says $3 (not changed)" >&2
          drift=1
        fi
      }
      if zfs list -H -o name 'tank/attic' >/dev/null 2>&1; then
        check 'tank/attic' mountpoint "$altroot"'/share/attic'
        check 'tank/attic' compression 'lz4'
      else
        zfs create -p -o mountpoint='/share/attic' -o compression='lz4' 'tank/attic' && echo "hearth-storage: created tank/attic" || status=1
      fi
      if [ "$drift" = 1 ]; then status=1; fi
      exit $status
    '';
  }
  {
    name = "create script: replica parents are created, not mounted";
    expr = builtins.match ".*zfs create -p -o canmount=off 'rpool/replicas/nas01'.*" (s.createScript target) != null;
    expected = true;
  }
  {
    name = "unknown tier throws";
    throws = s.sanoidConf (withTier "nope");
    message = "tier `nope` is used but not in hearth.storage.tiers";
  }
  {
    name = "negative snapshot count throws";
    throws = s.sanoidConf (cfg // { tiers = cfg.tiers // { attic = tier [ 0 0 (-1) 0 0 0 ]; }; });
    message = "snapshot count daily must be an integer >= 0";
  }
  {
    name = "snapshot count that is not a number throws";
    throws = s.sanoidConf (cfg // { tiers = cfg.tiers // { attic = tier [ "4" 0 1 0 0 0 ]; }; });
    message = "snapshot count frequent must be an integer >= 0";
  }
  {
    name = "dataset name that is not a ZFS name throws";
    throws = s.createScript (cfg // { datasets = [ ((builtins.head cfg.datasets) // { name = "tank"; }) ]; });
    message = "`tank` is not a ZFS dataset name";
  }
  {
    name = "datasets without pools throw";
    throws = s.createScript (cfg // { pools = [ ]; });
    message = "datasets but no pools";
  }
]
