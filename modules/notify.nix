# hearth's notification hook: `hearth-notify TITLE` (body on stdin) and the
# template unit hearth-notify@.service, so any unit can report its failure
# with `onFailure = [ "hearth-notify@%n.service" ]`. The program's text comes
# from the pure renderer ./lib/notify.nix (the lab runs the same text).
# Options set here were read in nixpkgs (stored copies):
#   nixos/lib/systemd-unit-options.nix, system/boot/systemd.nix (2025):
#   systemd.services.<name>.{description, path, scriptArgs, script, serviceConfig}
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.hearth.notify;
  render = import ./lib/notify.nix;
  program = pkgs.writeShellScript "hearth-notify" (
    render.script {
      inherit cfg;
      tools = {
        curl = "${pkgs.curl}/bin/curl";
        sendmail = "/run/wrappers/bin/sendmail";
      };
    }
  );
in
{
  options.hearth.notify = {
    enable = lib.mkEnableOption "hearth's notification hook (hearth-notify@.service)";
    kind = lib.mkOption {
      type = lib.types.enum [
        "command"
        "ntfy"
        "email"
      ];
      example = "ntfy";
      description = "Where notifications go: a shell `command` (title as `$1`, message on stdin), an `ntfy` topic URL, or an `email` address (needs a `sendmail`).";
    };
    target = lib.mkOption {
      type = lib.types.str;
      example = "https://ntfy.sh/my-homelab-alerts";
      description = "The command line, ntfy URL or email address.";
    };
    program = lib.mkOption {
      type = lib.types.path;
      readOnly = true;
      default = program;
      defaultText = lib.literalExpression "hearth-notify";
      description = "`hearth-notify TITLE`: sends its stdin as one notification. ZED and failed units use it.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.target != "";
        message = "hearth.notify.target must name a command, an ntfy URL or an email address.";
      }
    ];
    systemd.services."hearth-notify@" = {
      description = "hearth: report the failure of %i";
      path = [
        pkgs.coreutils
        pkgs.hostname
        config.systemd.package
      ];
      scriptArgs = "%i";
      script = render.failureScript { program = "${program}"; };
      serviceConfig.Type = "oneshot";
    };
  };
}
