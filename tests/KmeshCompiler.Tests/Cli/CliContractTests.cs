using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Cli;

public class CliContractTests
{
    [Theory]
    [InlineData("check", "examples", "--port", "80")]               // missing --dst
    [InlineData("check", "examples", "--dst", "1.2.3.4", "--port", "80", "--bogus")]
    [InlineData("frobnicate")]
    [InlineData("lb", "examples", "--node", "n", "--service", "a/b", "--port", "x")]
    [InlineData("check", "examples", "--dst", "1.2.3.4", "--port", "80", "--engine", "magic")]
    public void Usage_errors_exit_2_with_a_one_line_error_and_a_hint(params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.Exit);
        var lines = r.Err.TrimEnd().Split('\n');
        Assert.StartsWith("kmeshc: error: ", lines[0]);
        Assert.Contains("--help", lines[^1]);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void Kernel_engine_refuses_identity_overrides()
    {
        var r = CliRunner.Run("check", "examples", "--dst", "1.2.3.4", "--port", "80", "--engine", "kernel", "--plaintext");
        Assert.Equal(2, r.Exit);
        Assert.Contains("--engine reference", r.Err);
    }

    [Fact]
    public void A_missing_path_is_an_environment_error()
    {
        var r = CliRunner.Run("check", "no/such/dir", "--dst", "1.2.3.4", "--port", "80");
        Assert.Equal(2, r.Exit);
        Assert.Contains("KM9001", r.Err);
        Assert.Contains("no/such/dir", r.Err);
    }

    [Fact]
    public void Version_and_help_work()
    {
        Assert.Equal(0, CliRunner.Run("--version").Exit);
        var help = CliRunner.Run("check", "--help");
        Assert.Equal(0, help.Exit);
        Assert.Contains("--dst", help.Out);
    }
}
