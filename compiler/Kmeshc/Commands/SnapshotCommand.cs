using System.CommandLine;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.IO;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc snapshot INPUT... -o FILE [--format binary|json]</c>: the xDS snapshot istiod
/// would serve for the world (cli.md). Nothing is written when the inputs have errors.</summary>
public static class SnapshotCommand
{
    public static Command Create()
    {
        var inputs = Cli.Inputs();
        var output = new Option<string>("--output", "-o") { Description = "The snapshot file to write (a regular file, replaced atomically), or - for standard output.", Required = true };
        var format = new Option<string>("--format") { Description = "binary: length-delimited DeltaDiscoveryResponses; json: an array of them in proto JSON.", DefaultValueFactory = _ => "binary" };
        format.AcceptOnlyFromAmong("binary", "json");
        var cmd = new Command("snapshot", "Write the xDS snapshot (Address and Authorization resources) istiod would serve for the inputs.");
        cmd.Arguments.Add(inputs);
        cmd.Options.Add(output);
        cmd.Options.Add(format);
        Cli.AddInputOptions(cmd);
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            string path = parse.GetValue(output)!;
            if (!Cli.CheckOutputs(io, [path], parse.GetValue(inputs) ?? [], InputLoader.IsDirectoryInput)) return Cli.Usage;
            if (Cli.LoadOrReport(parse, parse.GetValue(inputs) ?? [], out int exit) is not { } loaded) return exit;
            var fmt = parse.GetValue(format) == "json" ? SnapshotFormat.Json : SnapshotFormat.Binary;
            var bytes = SnapshotWriter.Write(loaded.World, fmt);
            if (!Cli.WriteOutputs(io, new OutputFile(path, bytes))) return Cli.Usage;
            var w = loaded.World;
            io.Err.WriteLine($"wrote {path}: {w.Workloads.Length} workloads, {w.Services.Length} services, {w.Policies.Length} policies ({bytes.Length} bytes, {parse.GetValue(format)})");
            return Cli.Ok;
        });
        return cmd;
    }
}
