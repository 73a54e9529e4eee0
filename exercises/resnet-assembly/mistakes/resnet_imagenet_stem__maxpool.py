# The ImageNet stem's 3x3 max pooling (stride 2) after the stem's ReLU.
class ResNet(ResNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stem.append(nn.MaxPool2d(3, stride=2, padding=1))
