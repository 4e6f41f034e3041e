using System.CommandLine;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Cli;

/// <summary>Command-line mistakes get messages in the user's terms: suggestions for unknown commands
/// and options, no .NET type names, and fmt/test saying what they read when given YAML.</summary>
public class CliMessageTests
{
    [Theory]
    [InlineData("valdate", "unknown command 'valdate'; did you mean 'validate'?")]
    [InlineData("chekc", "unknown command 'chekc'; did you mean 'check'?")]
    [InlineData("frobnicate", "unknown command 'frobnicate'; the commands are validate, check,")]
    public void Unknown_commands_are_named_with_a_suggestion(string command, string expected)
    {
        var r = CliRunner.Run(command, "examples/bookinfo");
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.Err);
        Assert.DoesNotContain("Required command", r.Err);
    }

    [Fact]
    public void No_command_lists_the_commands()
    {
        var r = CliRunner.Run();
        Assert.Equal(2, r.Exit);
        Assert.Contains("no command given; the commands are validate", r.Err);
    }

    [Theory]
    [InlineData("check", "--prot", "did you mean '--port'?")]
    [InlineData("validate", "--formt", "did you mean '--format'?")]
    [InlineData("validate", "--verbos", "did you mean '--verbose'?")]
    public void Unknown_options_get_a_suggestion(string command, string option, string expected)
    {
        var r = CliRunner.Run(command, "examples/bookinfo", option, "1");
        Assert.Equal(2, r.Exit);
        Assert.Contains($"unknown option '{option}'; {expected}", r.Err);
    }

    /// <summary>Every option of every command that takes a non-text value, given "abc".</summary>
    [Fact]
    public void No_message_names_a_dotnet_type()
    {
        int checkedOptions = 0;
        foreach (var cmd in Kmeshc.Program.Root().Subcommands)
            foreach (var o in cmd.Options)
            {
                if (o.ValueType == typeof(string) || o.ValueType == typeof(string[]) || o.ValueType == typeof(bool) || o.ValueType == typeof(string)) continue;
                var r = cmd.Arguments.Count > 0 ? CliRunner.Run(cmd.Name, "examples/bookinfo", o.Name, "abc") : CliRunner.Run(cmd.Name, o.Name, "abc");
                Assert.Equal(2, r.Exit);
                Assert.DoesNotContain("System.", r.Err);
                Assert.Contains($"{o.Name}: 'abc' is not", r.Err);
                checkedOptions++;
            }
        Assert.True(checkedOptions >= 2, $"only {checkedOptions} numeric options found");
    }

    [Theory]
    [InlineData("fmt", "'kmeshc fmt' formats .kpl files")]
    [InlineData("test", "'kmeshc test' runs policy tests")]
    public void Fmt_and_test_given_yaml_say_what_they_read(string command, string expected)
    {
        var r = CliRunner.Run(command, "examples/bookinfo/pods.yaml");
        Assert.Equal(1, r.Exit);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains(" error KM")).ToList();
        var line = Assert.Single(lines);
        Assert.Contains("error KM6026: this file holds Kubernetes YAML or JSON, not the text language: " + expected, line);
    }

    [Fact]
    public void A_bad_namespace_for_n_is_a_usage_error()
    {
        var r = CliRunner.Run("validate", "tests/corpus/no-namespace", "-n", "Not_A_Namespace");
        Assert.Equal(2, r.Exit);
        Assert.Contains("--namespace 'Not_A_Namespace' is not a namespace name", r.Err);
    }
}
