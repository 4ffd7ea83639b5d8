"""Body Part Regression network: VGG16 convolutional features, a 1x1 convolution and a linear score head.

The layer layout reproduces the network of bpreg 1.1 (Schuhegger, "Body Part Regression for CT Images", 2021)
so that the public model weights (a plain ``state_dict``) load with ``strict=True``. The VGG16 layout (configuration
"D" of Simonyan & Zisserman, without batch normalisation) is written out here because torchvision cannot be imported
beside the CPU build of torch in this project.
"""

from __future__ import annotations

import torch
from torch import nn

#: VGG16 ("D") convolutional feature configuration: output channels of 3x3 convolutions, "M" for 2x2 max pooling.
VGG16_FEATURE_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, "M",
    512, 512, 512, "M",
    512, 512, 512, "M",
)


def vgg16_features(in_channels: int = 1) -> nn.Sequential:
    """Build the VGG16 ``features`` block with torchvision's module indices.

    The first convolution takes ``in_channels`` channels and has no bias, as in bpreg (single-channel CT slices).

    Parameters
    ----------
    in_channels: int
        Number of input channels.

    Returns
    -------
    torch.nn.Sequential
        Convolution/ReLU/max-pooling layers; convolutions sit at indices 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24,
        26, 28 like ``torchvision.models.vgg16().features``.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for item in VGG16_FEATURE_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        first = not layers
        layers.append(nn.Conv2d(channels, int(item), kernel_size=3, padding=1, bias=not first))
        layers.append(nn.ReLU(inplace=True))
        channels = int(item)
    return nn.Sequential(*layers)


class BodyPartRegressionNet(nn.Module):
    """Slice score regressor of bpreg: ``fc7(mean(relu(conv6(vgg16_features(x)))))``.

    Parameter names (``model.<i>.*``, ``conv6.*``, ``fc7.*``) match the public bpreg ``model.pt``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv6 = nn.Conv2d(512, 512, kernel_size=1, stride=1, padding=0)
        self.fc7 = nn.Linear(512, 1)
        self.model = vgg16_features(in_channels=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score a batch of preprocessed slices.

        Parameters
        ----------
        x: torch.Tensor
            Slices of shape (batch, 1, height, width), intensities scaled to [-1, 1].

        Returns
        -------
        torch.Tensor
            One score per slice, shape (batch,).
        """
        features = self.model(x.float())
        features = torch.relu(self.conv6(features))
        pooled = features.mean(dim=(2, 3))
        return self.fc7(pooled).reshape(-1)
