using System.CommandLine;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.IO;
using KmeshCompiler.Image;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc inspect IMAGE</c>: the text rendering of an image, after checking its header,
/// content hash and table layout.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("IMAGE") { Description = "An image written by kmeshc compile." };
        var cmd = new Command("inspect", "Print the text rendering of a map image.") { image };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            string path = parse.GetValue(image)!;
            var bag = new DiagnosticBag();
            bool environment = false;
            var data = InputFiles.Read(path, bag, ref environment, ImageReader.MaxImageBytes);
            if (data is null)
            {
                foreach (var d in bag.Sorted()) io.Err.WriteLine(d.ToString());
                return environment ? Cli.Usage : Cli.Failed;
            }
            var file = ImageReader.Read(path, data, bag);
            foreach (var d in bag.Sorted()) io.Err.WriteLine(d.ToString());
            if (file is null) return Cli.Failed;
            io.Out.Write(ImageText.Render(file));
            return Cli.Ok;
        });
        return cmd;
    }
}
