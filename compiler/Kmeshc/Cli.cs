using System.CommandLine;
using System.CommandLine.Parsing;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.IO;

namespace Kmeshc;

/// <summary>What every command shares: common options, the exit-code contract of cli.md (0 success,
/// 1 input errors or a failed judgement, 2 usage or environment errors), and the rule that nothing a
/// user can cause prints a stack trace.</summary>
public static class Cli
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Print more detail, including stack traces of internal errors.", Recursive = true };

    public static IEnumerable<Option> GlobalOptions => [Verbose];

    public static readonly Option<string> Color = new("--color") { Description = "Colour in text output: auto (on a terminal, unless NO_COLOR is set), always or never.", DefaultValueFactory = _ => "auto" };

    static Cli()
    {
        Color.AcceptOnlyFromAmong("auto", "always", "never");
        Namespace.Validators.Add(r =>
        {
            foreach (var t in r.Tokens)
                if (!System.Text.RegularExpressions.Regex.IsMatch(t.Value, "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"))
                    r.AddError($"--namespace '{t.Value}' is not a namespace name (lowercase letters, digits and '-', at most 63)");
        });
    }

    /// <summary>--color always/never decide; auto colours a terminal unless NO_COLOR is set (no-color.org).</summary>
    public static bool UseColor(ParseResult r, TextWriter w) => r.GetValue(Color) switch
    {
        "always" => true,
        "never" => false,
        _ => ReferenceEquals(w, Console.Out) && !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")),
    };

    public static readonly Option<string> RootNamespace = new("--root-namespace") { Description = "The istiod root namespace: policies there are global.", DefaultValueFactory = _ => "istio-system" };
    public static readonly Option<string> TrustDomain = new("--trust-domain") { Description = "Trust domain of workload identities.", DefaultValueFactory = _ => "cluster.local" };
    public static readonly Option<string> Namespace = new("--namespace", "-n") { Description = "Namespace of objects written without metadata.namespace (as kubectl -n).", DefaultValueFactory = _ => "default" };
    public static readonly Option<bool> EnableDryRun = new("--enable-dry-run") { Description = "Honour the istio.io/dry-run annotation (policies are kept, counted, never enforced) instead of excluding such policies." };

    public static Argument<string[]> Inputs()
    {
        var arg = new Argument<string[]>("INPUT")
        {
            Description = "Files or directories (Kubernetes YAML/JSON, xDS snapshots, .kpl), or - for stdin.",
            Arity = ArgumentArity.OneOrMore,
        };
        // An unknown option would otherwise be taken for a file name.
        arg.Validators.Add(result =>
        {
            foreach (var t in result.Tokens)
                if (t.Value.Length > 1 && t.Value[0] == '-')
                    result.AddError($"unknown option '{t.Value}'");
        });
        return arg;
    }

    public static void AddInputOptions(Command c)
    {
        c.Options.Add(RootNamespace);
        c.Options.Add(TrustDomain);
        c.Options.Add(EnableDryRun);
        c.Options.Add(Namespace);
    }

    public static FrontendSettings Settings(ParseResult r) => new(
        r.GetValue(RootNamespace) ?? "istio-system",
        r.GetValue(TrustDomain) ?? "cluster.local",
        "Kubernetes",
        r.GetValue(EnableDryRun),
        r.GetValue(Namespace) ?? "default");

    /// <summary>The output streams of the current invocation.</summary>
    public sealed record Io(TextWriter Out, TextWriter Err);

    public static Io Current(ParseResult r) => new(r.InvocationConfiguration.Output, r.InvocationConfiguration.Error);

    public static int Invoke(RootCommand root, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            stderr.WriteLine($"kmeshc: error: {ParseError(parse, root)}");
            var cmd = parse.CommandResult.Command;
            string path = cmd == root ? "" : " " + string.Join(' ', CommandPath(parse.CommandResult));
            stderr.WriteLine($"Run 'kmeshc{path} --help' for usage.");
            return Usage;
        }
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return parse.Invoke(config);
        }
        catch (Exception e)
        {
            stderr.WriteLine($"kmeshc: internal error: {e.Message}");
            if (parse.GetValue(Verbose)) stderr.WriteLine(e.ToString());
            else stderr.WriteLine("This is a bug in kmeshc; run again with --verbose for details and report it.");
            return Usage;
        }
    }

    /// <summary>The first parse error in the user's terms: unknown commands and options with a "did you
    /// mean", values that are not numbers without .NET type names.</summary>
    public static string ParseError(ParseResult parse, RootCommand root)
    {
        var cmd = parse.CommandResult.Command;
        string UnknownOption(string t)
        {
            var names = cmd.Options.Concat(GlobalOptions).SelectMany(o => o.Aliases.Prepend(o.Name)).Append("--help").Distinct();
            return $"unknown option '{t}'" + (NearMiss.DidYouMean(t, names) is { } o ? $"; did you mean '{o}'?" : "");
        }
        // An unknown option taken for an INPUT is reported by the argument's validator.
        foreach (var e in parse.Errors)
            if (System.Text.RegularExpressions.Regex.Match(e.Message, "^unknown option '(.*)'$") is { Success: true } u) return UnknownOption(u.Groups[1].Value);
        if (parse.UnmatchedTokens.Count > 0)
        {
            string t = parse.UnmatchedTokens[0];
            if (t.StartsWith('-')) return UnknownOption(t);
            if (cmd == root)
                return $"unknown command '{t}'" + (NearMiss.DidYouMean(t, root.Subcommands.Select(c => c.Name)) is { } c
                    ? $"; did you mean '{c}'?" : $"; the commands are {string.Join(", ", root.Subcommands.Select(c => c.Name))}");
            return $"unexpected argument '{t}'";
        }
        foreach (var e in parse.Errors)
        {
            var m = System.Text.RegularExpressions.Regex.Match(e.Message, @"^Cannot parse argument '(.*)' for option '(.*)' as expected type '([\w.]+)'");
            if (m.Success) return $"{m.Groups[2].Value}: '{m.Groups[1].Value}' is not {TypeWords(m.Groups[3].Value)}";
        }
        if (cmd == root && root.Subcommands.Count > 0 && !parse.Tokens.Any())
            return $"no command given; the commands are {string.Join(", ", root.Subcommands.Select(c => c.Name))}";
        return parse.Errors[0].Message;
    }

    private static string TypeWords(string type) => type switch
    {
        "System.Int32" or "System.Int64" or "System.UInt16" or "System.UInt32" or "System.UInt64" or "System.Byte" => "a whole number",
        "System.Double" or "System.Single" or "System.Decimal" => "a number",
        "System.Boolean" => "true or false",
        _ => "a valid value",
    };

    private static IEnumerable<string> CommandPath(CommandResult r)
    {
        var names = new Stack<string>();
        for (SymbolResult? s = r; s is CommandResult c && c.Parent is not null; s = c.Parent) names.Push(c.Command.Name);
        return names;
    }

    /// <summary>Loads inputs and prints their diagnostics in text form to stderr. Returns null when
    /// the caller must stop, with the exit code in <paramref name="exit"/>.</summary>
    public static LoadResult? LoadOrReport(ParseResult r, string[] inputs, out int exit, bool failOnErrors = true)
    {
        var io = Current(r);
        var res = InputLoader.Load(inputs, Settings(r));
        exit = Ok;
        // Errors always; warnings and infos belong to 'validate', so other commands summarise them.
        bool verbose = r.GetValue(Verbose);
        foreach (var d in res.Diagnostics.Sorted())
            if (d.Severity == Severity.Error || verbose) io.Err.WriteLine(d.ToString());
        int warnings = Suppression.Apply(res.Diagnostics.Items, res.Diagnostics.Suppressions, out _).Count(d => d.Severity == Severity.Warning);
        if (!verbose && warnings > 0)
            io.Err.WriteLine($"kmeshc: the inputs have {warnings} warning(s); see them with 'kmeshc validate' or --verbose");
        if (res.EnvironmentError) { exit = Usage; return null; }
        if (failOnErrors && res.Diagnostics.HasErrors) { exit = Failed; return null; }
        return res;
    }

    /// <summary>The output policy's refusals (KmeshCompiler.IO.OutputFiles), checked before any input
    /// is read: prints the reason and returns false.</summary>
    public static bool CheckOutputs(Io io, IReadOnlyList<string?> outputs, IReadOnlyList<string> inputs, Func<string, bool>? readFromDirectory = null)
    {
        if (OutputFiles.Check([.. outputs.OfType<string>()], inputs, readFromDirectory) is not { } why) return true;
        io.Err.WriteLine($"kmeshc: error: {why}");
        return false;
    }

    /// <summary>Writes all outputs or none (OutputFiles.WriteAll); "-" goes to this invocation's
    /// standard output. Prints the reason and returns false on failure.</summary>
    public static bool WriteOutputs(Io io, params OutputFile[] outputs)
    {
        using var stdout = new StdoutStream(io.Out);
        if (OutputFiles.WriteAll(outputs, stdout) is not { } why) return true;
        io.Err.WriteLine($"kmeshc: error: {why}");
        return false;
    }

    /// <summary>Bytes for standard output: the process's own stream when the writer is the console
    /// (binary content stays binary), else decoded as UTF-8 into the writer (tests).</summary>
    private sealed class StdoutStream(TextWriter writer) : Stream
    {
        private Stream? _console;

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (ReferenceEquals(writer, Console.Out))
            {
                writer.Flush();
                (_console ??= Console.OpenStandardOutput()).Write(buffer);
            }
            else writer.Write(System.Text.Encoding.UTF8.GetString(buffer));
        }

        public override void Flush()
        {
            writer.Flush();
            _console?.Flush();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _console?.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
