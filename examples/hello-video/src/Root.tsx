import {Composition} from 'remotion';
import {HelloWorld} from './HelloWorld';

export const RemotionRoot: React.FC = () => {
  return (
    <Composition
      id="HelloWorld"
      component={HelloWorld}
      durationInFrames={60}
      fps={30}
      width={640}
      height={360}
      defaultProps={{title: 'Hello, reelstore', color: '#1e3a8a'}}
    />
  );
};
