using System.CommandLine;
using Kmeshc.Commands;

namespace Kmeshc;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Entry point for tests too: everything printed goes to the given writers.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Cli.Invoke(Root(), args, stdout, stderr);

    /// <summary>The command tree (tests walk it to check every option).</summary>
    public static RootCommand Root()
    {
        var root = new RootCommand("kmeshc: compile Istio authorization and service resources into BPF map images for a kernel-native mesh.");
        foreach (var o in Cli.GlobalOptions) root.Options.Add(o);
        root.Subcommands.Add(ValidateCommand.Create());
        root.Subcommands.Add(CheckCommand.Create());
        root.Subcommands.Add(LbCommand.Create());
        root.Subcommands.Add(SnapshotCommand.Create());
        root.Subcommands.Add(FmtCommand.Create());
        root.Subcommands.Add(TestCommand.Create());
        root.Subcommands.Add(CompileCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(DiffCommand.Create());
        foreach (var c in LoaderCommands.Create()) root.Subcommands.Add(c);
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());
        return root;
    }
}
