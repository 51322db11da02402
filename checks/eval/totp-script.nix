# The hearth-totp.service script of modules/bastion.nix for a test
# directory, so ./run can execute it against real files: where the seeds are
# (`secretsDir`, one file per user as agenix would decrypt them), where the
# state goes (`stateDir`), and the TOTP options.
{
  lib,
  stateDir,
  secretsDir,
  users,
  window ? 3,
  attempts ? 3,
}:
let
  fx = import ../nix-unit/fixtures.nix;
  c =
    (lib.evalModules {
      modules = [
        ./stubs.nix
        ../../modules
        { _module.args.pkgs = import ./pkgs.nix; }
        {
          age.secrets = lib.genAttrs (map (u: "hearth-totp-${u}") users) (name: {
            file = ./stubs.nix;
            path = "${secretsDir}/${lib.removePrefix "hearth-totp-" name}";
          });
          hearth.bastion = fx.minimalGateway.bastion // {
            users = map (u: {
              name = u;
              sshKeys = [ ];
              totp = true;
              totpSecret = "hearth-totp-${u}";
            }) users;
            totp = fx.minimalGateway.bastion.totp // {
              inherit stateDir window;
              rateLimit = {
                inherit attempts;
                seconds = 30;
              };
            };
          };
        }
      ];
    }).config;
  s = c.systemd.services.hearth-totp;
in
{
  inherit (s) script;
  headerPath = (lib.head s.restartTriggers).outPath;
  header = (lib.head s.restartTriggers).text;
}
